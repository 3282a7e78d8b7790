"""Deletions: asked through the API or ``manage.py delete_user``, run by the aggregation
worker under the aggregation lease, exactly once (``spark.deletion``).

``run_aggregation`` calls ``redo_unfinished`` before it aggregates anything new (a
deletion interrupted mid-way is finished before any batch can change its rows) and
``run_requested`` after. A deletion that fails is retried by the next runs, at most
``DELETION_MAX_ATTEMPTS`` times in all; then it stays failed, with its error, in the admin.

A user's deletion also becomes a ``DeletionRule`` for every aggregation batch that
starts after it was asked (for ``DELETION_RULE_DAYS``): the user's events received
before the request that were still on their way are dropped, their ids kept as
tombstones, so neither they nor a later replay bring the user back. A suppressing
deletion of whole users is also refused at the door (``sync_suppressed``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from redis.exceptions import RedisError

from events import suppression
from events.models import Project

from .cache import bump_generations
from .datasets import on_aggregated as datasets_on_aggregated
from .engine_queue import send
from .models import Deletion, DeletionPartition, JobRun
from .raw_answers import event_view, matches

if TYPE_CHECKING:
    from spark.deletion import DeletionRule, RawPartition, UserTargets
    from spark.driver_batch import CqlStore, Row

logger = logging.getLogger(__name__)
Progress = Callable[[str], None]


def _naive_utc(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else moment.astimezone(dt.UTC).replace(tzinfo=None)


def request_user_deletion(
    *,
    project: Project,
    distinct_ids: Sequence[str],
    requested_by: str,
    name: str = "",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    suppress: bool = False,
) -> Deletion:
    """Record a deletion of every event of ``distinct_ids`` (optionally of event ``name``
    in [``start``, ``end``)) received until now, and queue an aggregation run to do it.
    With ``suppress``, the users' later events are dropped too."""
    deletion = Deletion.objects.create(
        project=project,
        kind=Deletion.Kind.USERS,
        distinct_ids=sorted(set(distinct_ids)),
        name=name,
        start=start,
        end=end,
        suppress=suppress,
        requested_by=requested_by,
    )
    if suppress:
        transaction.on_commit(lambda: sync_suppressed(str(project.pk)))
    _queue_run()
    return deletion


def sync_suppressed(project_id: str) -> None:
    """Make the door's suppressed set of the project (:mod:`events.suppression`) equal
    to its suppressing deletions of whole users (no event name or timeframe: narrower
    ones act at aggregation only). An unreachable Redis is logged: aggregation still
    drops the users' events."""
    whole_users = Deletion.objects.filter(
        project_id=project_id,
        kind=Deletion.Kind.USERS,
        suppress=True,
        name="",
        start__isnull=True,
        end__isnull=True,
    )
    distinct_ids = {distinct_id for d in whole_users for distinct_id in d.distinct_ids}
    try:
        suppression.replace(project_id, distinct_ids)
    except RedisError as exc:
        logger.warning(
            "suppressed set of %s not updated (aggregation drops them): %s", project_id, exc
        )


def request_event_deletion(
    *,
    project: Project,
    name: str,
    start: dt.datetime,
    end: dt.datetime,
    filters: list[dict],
    requested_by: str,
) -> Deletion:
    """Record a deletion of the stored events of collection ``name`` in [``start``,
    ``end``) matching Keen ``filters``, and queue an aggregation run to do it."""
    deletion = Deletion.objects.create(
        project=project,
        kind=Deletion.Kind.EVENTS,
        name=name,
        start=start,
        end=end,
        filters=filters,
        requested_by=requested_by,
    )
    _queue_run()
    return deletion


def _queue_run() -> None:
    """Ask for an aggregation run once the request is committed; if the broker cannot
    take it now, the next scheduled run does the deletion."""

    transaction.on_commit(
        lambda: send(
            "insights.aggregate_events",
            trigger=JobRun.Trigger.MANUAL,
            unsent="the schedule runs the deletion",
        )
    )


def as_dict(deletion: Deletion) -> dict[str, Any]:
    """A deletion as the API answers it: what was asked, by whom, and what was removed."""

    def iso(moment: dt.datetime | None) -> str | None:
        return None if moment is None else moment.isoformat().replace("+00:00", "Z")

    return {
        "id": deletion.pk,
        "kind": deletion.kind,
        "status": deletion.status,
        "distinct_ids": deletion.distinct_ids,
        "event": deletion.name or None,
        "timeframe": (
            None
            if deletion.start is None and deletion.end is None
            else {"start": iso(deletion.start), "end": iso(deletion.end)}
        ),
        "filters": deletion.filters,
        "suppress": deletion.suppress,
        "requested_by": deletion.requested_by,
        "requested_at": iso(deletion.requested_at),
        "started_at": iso(deletion.started_at),
        "finished_at": iso(deletion.finished_at),
        "attempts": deletion.attempts,
        "removed": {
            "events": deletion.events_deleted,
            "rollup_rows_corrected": deletion.rollup_rows,
            "rollup_rows_removed": deletion.rollup_rows_removed,
            "bucket_users": deletion.bucket_users_removed,
        },
        "error": deletion.error or None,
    }


def rules_for_batch(started_at: dt.datetime) -> list[DeletionRule]:
    """The user deletions asked before a batch first started (and within
    DELETION_RULE_DAYS of it, or suppressing) as rules: fixed per batch, so a redo drops
    the same events. A suppressing one drops the users' events whenever received."""
    from spark.deletion import DeletionRule

    since = started_at - dt.timedelta(days=settings.DELETION_RULE_DAYS)
    asked = Deletion.objects.filter(kind=Deletion.Kind.USERS, requested_at__lte=started_at).filter(
        Q(requested_at__gte=since) | Q(suppress=True)
    )
    return [
        DeletionRule(
            project_id=str(deletion.project_id),
            distinct_id=distinct_id,
            received_before=None if deletion.suppress else _naive_utc(deletion.requested_at),
            name=deletion.name or None,
            start=_naive_utc(deletion.start),
            end=_naive_utc(deletion.end),
        )
        for deletion in asked
        for distinct_id in deletion.distinct_ids
    ]


def redo_unfinished(*, store: CqlStore, progress: Progress, job_group: str | None = None) -> None:
    """Finish every deletion an earlier run left running or failed (attempts left)."""
    unfinished = Deletion.objects.filter(
        status__in=[Deletion.Status.RUNNING, Deletion.Status.FAILED],
        attempts__lt=settings.DELETION_MAX_ATTEMPTS,
    ).order_by("id")
    for deletion in unfinished:
        progress(f"redoing deletion {deletion.pk} (attempt {deletion.attempts + 1})")
        run_deletion(deletion, store=store, progress=progress, job_group=job_group)


def run_requested(*, store: CqlStore, progress: Progress, job_group: str | None = None) -> None:
    """Run every pending deletion, oldest first."""
    for deletion in Deletion.objects.filter(status=Deletion.Status.PENDING).order_by("id"):
        run_deletion(deletion, store=store, progress=progress, job_group=job_group)


def run_deletion(
    deletion: Deletion, *, store: CqlStore, progress: Progress, job_group: str | None = None
) -> None:
    """Delete what ``deletion`` asks for and correct the rollups (``spark.deletion``); it
    must run under the aggregation lease, whose guard ``store`` writes with (and whose
    ``job_group`` a Spark deletion's jobs join, so losing the lease cancels them).
    Re-raises a failure after recording it."""
    deletion.status = Deletion.Status.RUNNING
    deletion.attempts += 1
    deletion.started_at = timezone.now()
    deletion.error = ""
    deletion.save()
    try:
        _delete(deletion, store=store, progress=progress, job_group=job_group)
    except BaseException as exc:
        deletion.status = Deletion.Status.FAILED
        deletion.error = f"{type(exc).__name__}: {exc}"[:10_000]
        _record_totals(deletion)
        raise
    deletion.status = Deletion.Status.SUCCEEDED
    deletion.error = ""
    _record_totals(deletion)
    progress(f"deletion {deletion.pk}: {deletion.events_deleted} events removed")


def _delete(
    deletion: Deletion, *, store: CqlStore, progress: Progress, job_group: str | None
) -> None:
    from spark.deletion import UserTargets, rederive_months

    partitions, is_target = _targets(deletion, store)
    progress(f"deletion {deletion.pk}: {len(partitions)} raw-event partitions to read")
    if isinstance(is_target, UserTargets) and len(partitions) >= settings.DELETION_SPARK_PARTITIONS:
        _delete_on_spark(deletion, partitions, is_target, store=store, job_group=job_group)
    else:
        _delete_on_driver(deletion, partitions, is_target, store=store)
    records = list(deletion.partitions.all())
    if records:
        rederive_months(
            store,
            [tuple(p) for record in records for p in record.day_partitions],
            [
                (p, n, m, dt.datetime.fromisoformat(month), c)
                for record in records
                for p, n, m, month, c in record.month_keys
            ],
        )
        _after_change(str(deletion.project_id), records)


def _record(deletion: Deletion, name: str, day: dt.date, plan: dict[str, Any]) -> DeletionPartition:
    """The outcome of a partition's first attempt, recorded before its first write: its
    counts are the whole partition's, whatever a redo finds left."""
    return DeletionPartition.objects.create(
        deletion=deletion,
        name=name,
        day=day,
        day_partitions=plan["day_partitions"],
        month_keys=[[p, n, m, month.isoformat(), c] for p, n, m, month, c in plan["month_keys"]],
        **plan["counts"],
    )


def _delete_on_driver(
    deletion: Deletion,
    partitions: list[RawPartition],
    is_target: Callable[[Row], bool],
    *,
    store: CqlStore,
) -> None:
    """One partition after another in this process (a small deletion, or a Keen one)."""
    from spark.deletion import apply_plan, plan_partition

    done = {(p.name, p.day) for p in deletion.partitions.filter(done=True)}
    for partition in partitions:
        _project_id, name, day = partition
        day = _as_date(day)
        if (name, day) in done:
            continue
        plan = plan_partition(store, partition, is_target=is_target, batch_id=deletion.batch_id)
        record = deletion.partitions.filter(name=name, day=day).first()
        if plan is not None:
            if record is None:
                record = _record(deletion, name, day, plan.summary())
            apply_plan(store, plan)
        if record is not None:
            record.done = True
            record.save(update_fields=["done"])


def _delete_on_spark(
    deletion: Deletion,
    partitions: list[RawPartition],
    targets: UserTargets,
    *,
    store: CqlStore,
    job_group: str | None,
) -> None:
    """A large users' deletion as a Spark job (``spark.deletion_job``): every partition
    planned on the executors and recorded here, then all of them written."""
    from spark import deletion_job

    from .spark_runtime import get_session

    session = get_session()
    if job_group is not None:
        session.sparkContext.setJobGroup(
            job_group, f"deletion {deletion.pk}", interruptOnCancel=True
        )
    config = deletion_job.StoreConfig(
        hosts=tuple(settings.CASSANDRA_HOSTS),
        port=settings.CASSANDRA_PORT,
        keyspace=store.keyspace,
        consistency=store.consistency,
        local_dc=settings.CASSANDRA_LOCAL_DC,
        write_timestamp=store.guard(),
    )
    recorded = {(r.name, r.day): r for r in deletion.partitions.all()}
    fresh = [p for p in partitions if (p[1], _as_date(p[2])) not in recorded]
    batch_id = deletion.batch_id
    planned = deletion_job.plan(session, fresh, targets=targets, config=config, batch_id=batch_id)
    for (_project_id, name, day), summary in planned.items():
        recorded[(name, _as_date(day))] = _record(deletion, name, _as_date(day), summary)
    todo = [
        p
        for p in partitions
        if (key := (p[1], _as_date(p[2]))) in recorded and not recorded[key].done
    ]
    deletion_job.apply(session, todo, targets=targets, config=config, batch_id=batch_id)
    deletion.partitions.filter(done=False).update(done=True)


def _as_date(day: Any) -> dt.date:
    """A Cassandra ``date`` as read (``cassandra.util.Date``) or given, as a date."""
    return day.date() if hasattr(day, "date") else day


def _record_totals(deletion: Deletion) -> None:
    totals = {"events": 0, "rollup_rows": 0, "rollup_rows_removed": 0, "bucket_users_removed": 0}
    for record in deletion.partitions.all():
        for name in totals:
            totals[name] += getattr(record, name)
    deletion.events_deleted = totals["events"]
    deletion.rollup_rows = totals["rollup_rows"]
    deletion.rollup_rows_removed = totals["rollup_rows_removed"]
    deletion.bucket_users_removed = totals["bucket_users_removed"]
    deletion.finished_at = timezone.now()
    deletion.save()


def _after_change(project_id: str, records: list[DeletionPartition]) -> None:
    """What follows a change of stored rollups: fresh cached answers and datasets."""
    bump_generations([project_id])
    day_partitions = {tuple(p) for record in records for p in record.day_partitions}
    try:
        datasets_on_aggregated(sorted(day_partitions))
    except Exception:
        logger.exception("queueing the cached datasets' refresh failed")


def _targets(
    deletion: Deletion, store: CqlStore
) -> tuple[list[RawPartition], Callable[[Row], bool]]:
    """The raw-event partitions holding ``deletion``'s events, and which of their events
    it deletes: none received after it was asked."""
    from spark.deletion import UserTargets

    asked = _naive_utc(deletion.requested_at)
    start, end = _naive_utc(deletion.start), _naive_utc(deletion.end)

    def in_time(row: Row) -> bool:
        return (start is None or row["event_time"] >= start) and (
            end is None or row["event_time"] < end
        )

    def received_in_time(row: Row) -> bool:
        return row["received_at"] is None or asked is None or row["received_at"] <= asked

    if deletion.kind == Deletion.Kind.USERS:
        ids: dict[RawPartition, set[str]] = defaultdict(set)
        for row in store.user_events(str(deletion.project_id), deletion.distinct_ids):
            if (not deletion.name or row["name"] == deletion.name) and in_time(row):
                ids[(row["project_id"], row["name"], row["day"])].add(row["event_id"])
        wanted = frozenset(event_id for found in ids.values() for event_id in found)
        return sorted(ids), UserTargets(event_ids=wanted, received_before=asked)

    # An events deletion has a timeframe.
    assert start is not None
    assert end is not None
    days = []
    day = start.date()
    while dt.datetime.combine(day, dt.time()) < end:
        days.append((str(deletion.project_id), deletion.name, day))
        day += dt.timedelta(days=1)
    filters = list(deletion.filters)

    def wanted_event(row: Row) -> bool:
        return in_time(row) and received_in_time(row) and matches(event_view(row), filters)

    return days, wanted_event
