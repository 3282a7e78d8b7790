"""Run the aggregation now: one run at a time, recorded as a JobRun, offsets committed last.

``run_aggregation`` is what the Celery task and ``manage.py aggregate`` call. It
takes a Redis lock (so two runs never recompute the same buckets at once), plans
the Kafka offset range from the last succeeded run, runs the Spark job and then
the second-stage job on the process's warm SparkSession, and records the outcome.

The lock and its fencing (why a run that lost its lock cannot change a number) are
``insights.lease``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from events.topics import dlq_topic, event_topics

from . import deletions, store
from .cache import bump_generations
from .collections import record_collections
from .datasets import on_aggregated as datasets_on_aggregated
from .lease import JOB, Lease, LeaseLost, exclusive_run
from .models import JobFence, JobRun, KafkaOffset
from .retention import raw_retention
from .spark_runtime import get_session, reset_cassandra_connections

if TYPE_CHECKING:  # the Spark modules load pyspark: imported where a run needs them
    from spark import driver_batch
    from spark.jobs.aggregate import AggregationResult, Progress
    from spark.offsets import OffsetRange

logger = logging.getLogger(__name__)


def committed_offsets() -> dict[str, dict[str, int]]:
    """Where the next run starts, per topic and partition (``{topic: {"0": offset}}``)."""
    offsets: dict[str, dict[str, int]] = {}
    for row in KafkaOffset.objects.filter(job=JOB):
        offsets.setdefault(row.topic, {})[str(row.partition)] = row.offset
    return offsets


def _commit(offsets: dict[str, dict[str, int]]) -> None:
    for topic, partitions in offsets.items():
        for partition, offset in partitions.items():
            KafkaOffset.objects.update_or_create(
                job=JOB, topic=topic, partition=int(partition), defaults={"offset": offset}
            )


def _abandon_unfinished() -> None:
    """Runs still marked running when the lock is free died without finishing."""
    JobRun.objects.filter(job=JOB, status=JobRun.Status.RUNNING).update(
        status=JobRun.Status.ABANDONED,
        finished_at=timezone.now(),
        error="the process running it ended before it finished (killed or crashed)",
    )


def _prune_empty_runs() -> None:
    cutoff = timezone.now() - dt.timedelta(hours=settings.AGGREGATION_EMPTY_RUN_RETENTION_HOURS)
    JobRun.objects.filter(
        job=JOB, status=JobRun.Status.SUCCEEDED, records_read=0, started_at__lt=cutoff
    ).filter(offset_gaps=[]).delete()  # a run that found records lost stays on record


def _unfinished_batch() -> JobRun | None:
    """The latest run, if it failed or was abandoned: its batch must be redone first."""
    latest = JobRun.objects.filter(job=JOB).order_by("-id").first()
    if latest and latest.status in (JobRun.Status.FAILED, JobRun.Status.ABANDONED):
        return latest
    return None


def run_aggregation(
    *,
    trigger: str = JobRun.Trigger.SCHEDULE,
    replay_from_time: dt.datetime | None = None,
    replay_from_offset: int | None = None,
    wait_seconds: float = 0,
    progress: Callable[[str], None] = lambda _message: None,
) -> JobRun:
    """Aggregate every event that arrived since the last succeeded run; return its JobRun.

    If the latest run failed or was abandoned, its batch (same offsets, same batch
    id) is redone first, which makes its numbers exact whatever it had written.
    A replay (``replay_from_time`` or ``replay_from_offset``, for every partition)
    rereads from that point; it is safe because stored events are recognised by
    event_id and add nothing. Raises AggregationBusy if a run is still in progress
    after ``wait_seconds``, LeaseLost if this run lost its lock before it finished
    (it then committed nothing; see the module docstring); any other failure is
    recorded on the JobRun and re-raised.
    """
    from spark.offsets import OffsetRange, clamp_to_log_start, plan_range

    with exclusive_run(wait_seconds=wait_seconds) as lease:
        _abandon_unfinished()
        pending = _unfinished_batch()
        if pending is not None:
            progress(f"redoing batch {pending.batch_id} (run {pending.pk} {pending.status})")
            _run_batch_reconnecting(
                offsets=clamp_to_log_start(
                    OffsetRange(start=pending.start_offsets, end=pending.end_offsets),
                    bootstrap=list(settings.KAFKA_BOOTSTRAP_SERVERS),
                ),
                batch_id=pending.batch_id,
                trigger=JobRun.Trigger.RETRY,
                progress=progress,
                lease=lease,
            )
        deletions.redo_unfinished(
            store=_driver_store(lease), progress=progress, job_group=lease.job_group
        )
        from_ms = None if replay_from_time is None else int(replay_from_time.timestamp() * 1000)
        offsets = plan_range(
            bootstrap=list(settings.KAFKA_BOOTSTRAP_SERVERS),
            topics=event_topics(),
            committed=committed_offsets(),
            max_records_per_partition=settings.AGGREGATION_MAX_RECORDS_PER_PARTITION,
            from_timestamp_ms=from_ms,
            from_offset=replay_from_offset,
        )
        run = _run_batch_reconnecting(
            offsets=offsets, batch_id=None, trigger=trigger, progress=progress, lease=lease
        )
        deletions.run_requested(
            store=_driver_store(lease), progress=progress, job_group=lease.job_group
        )
        _prune_empty_runs()
        return run


# What the connector says when its pooled session lost Cassandra for good (a restart
# while it sat idle); dropping the pool (``reset_cassandra_connections``) cures it.
STALE_CONNECTION_MARKERS = (
    "Control channel not available",
    "AllNodesFailedException",
    "NodeUnavailableException",
    # The app's driver session (a small batch's store) still counts a restarted node
    # down; it tries the node again within CASSANDRA_RECONNECT_MAX_SECONDS.
    "Unable to complete the operation against any hosts",
)


def _run_batch_reconnecting(
    *,
    offsets: OffsetRange,
    batch_id: int | None,
    trigger: str,
    progress: Progress,
    lease: Lease,
) -> JobRun:
    """``_run_batch``; if it failed on a stale Cassandra connection (whose pool its
    failure path has dropped), the same batch is redone once at once, as the next run
    would redo it: same offsets, same batch id, so the numbers stay exact."""
    try:
        return _run_batch(
            offsets=offsets, batch_id=batch_id, trigger=trigger, progress=progress, lease=lease
        )
    except Exception as exc:
        if not any(marker in str(exc) for marker in STALE_CONNECTION_MARKERS):
            raise
        failed = _unfinished_batch()
        if failed is None:
            raise
        logger.warning("batch %s met a stale Cassandra connection; redoing it", failed.batch_id)
        _await_app_session()
        return _run_batch(
            offsets=offsets,
            batch_id=failed.batch_id,
            trigger=JobRun.Trigger.RETRY,
            progress=progress,
            lease=lease,
        )


def _await_app_session() -> None:
    """Wait (up to three reconnection delays) until the app's Cassandra session answers."""
    import time

    deadline = time.monotonic() + 3 * settings.CASSANDRA_RECONNECT_MAX_SECONDS
    while time.monotonic() < deadline:
        try:
            store.session().execute("SELECT release_version FROM system.local")
            return
        except Exception:
            time.sleep(0.25)


def _log_gaps(run: JobRun) -> None:
    for gap in run.offset_gaps:
        logger.error(
            "Kafka retention deleted %(count)d records before aggregation read them: "
            "%(topic)s[%(partition)d] offsets %(first)d..%(last)d are lost (job run %(run)d)",
            {**gap, "run": run.pk},
        )


def _commit_if_still_current(lease: Lease, run: JobRun, offsets: dict[str, dict[str, int]]) -> None:
    """Commit ``offsets`` and save ``run`` in one transaction, only if the database
    fence still holds this lease's token (compare-and-set); else raise LeaseLost."""
    with transaction.atomic():
        fence = JobFence.objects.select_for_update().filter(job=JOB).first()
        if fence is None or fence.token != lease.token:
            lease.lose(f"a newer run holds fencing token {fence and fence.token}")
            raise LeaseLost(f"fenced: {lease.lost} (token {lease.token}); offsets not committed")
        _commit(offsets)
        run.save()


def _run_batch(
    *,
    offsets: OffsetRange,
    batch_id: int | None,
    trigger: str,
    progress: Progress,
    lease: Lease,
) -> JobRun:
    """Run both stages over ``offsets`` as one JobRun; commit its offsets on success,
    if ``lease`` is still held. The JobRun exists before the first write, so a newer
    run that finds the lease lost redoes this batch (see the module docstring)."""
    run = _start_run(offsets=offsets, batch_id=batch_id, trigger=trigger)
    try:
        result, derived = _run_stages(run=run, offsets=offsets, progress=progress, lease=lease)
        _record_success(run, result=result, derived=derived)
        _commit_if_still_current(lease, run, offsets.end)
    except BaseException as exc:
        error = _record_failure(run, exc=exc, lease=lease)
        if error is not exc:
            raise error from exc
        raise
    progress(
        f"done: {run.records_read} read, {run.events_written} new, {run.duplicates} "
        f"duplicates, {run.invalid} invalid, {run.rollup_rows} rollups, {derived} derived"
    )
    return run


def _start_run(*, offsets: OffsetRange, batch_id: int | None, trigger: str) -> JobRun:
    """The JobRun of a batch over ``offsets``; a new batch takes the run's id as its id."""
    run = JobRun.objects.create(
        job=JOB,
        trigger=trigger,
        batch_id=batch_id,
        start_offsets=offsets.start,
        end_offsets=offsets.end,
        offset_gaps=[gap.as_dict() for gap in offsets.gaps],
    )
    if run.batch_id is None:
        run.batch_id = run.pk
        run.save(update_fields=["batch_id"])
    _log_gaps(run)
    return run


def _run_stages(
    *, run: JobRun, offsets: OffsetRange, progress: Progress, lease: Lease
) -> tuple[AggregationResult, int]:
    """The aggregation job, then the second stage; return its result and the rows derived.
    Every write is guarded by ``lease``, and its Spark jobs run in the lease's job group."""
    from spark import driver_batch
    from spark.jobs import aggregate, derive_rollups

    batch_id = run.batch_id
    assert batch_id is not None  # _start_run gives every run its batch id
    rules: list = []
    retention: dict[str, int] = {}
    if offsets.records:  # an empty run (one a second) asks the database nothing more
        first = JobRun.objects.filter(pk=batch_id).values_list("started_at", flat=True).first()
        rules = deletions.rules_for_batch(first or run.started_at)
        retention = raw_retention()
    cql = _driver_store(lease) if settings.AGGREGATION_SMALL_BATCHES_ON_DRIVER else None
    session = get_session() if offsets.records else None
    if session is not None:
        session.sparkContext.setJobGroup(
            lease.job_group, f"aggregation batch {run.batch_id}", interruptOnCancel=True
        )
    result = aggregate.run(
        session,
        offsets=offsets,
        batch_id=batch_id,
        bootstrap=",".join(settings.KAFKA_BOOTSTRAP_SERVERS),
        keyspace=store.keyspace(),
        dlq_topic=dlq_topic(),
        driver_read_max_records=settings.AGGREGATION_DRIVER_READ_MAX_RECORDS,
        driver_read_max_bytes=settings.AGGREGATION_DRIVER_READ_MAX_BYTES,
        progress=progress,
        guard=lease.write_timestamp,
        cql=cql,
        deletion_rules=rules,
        raw_retention=retention,
    )
    if not result.day_partitions:
        return result, 0
    progress("deriving monthly rollups")
    if cql is not None and result.path == "driver":
        derived = driver_batch.derive_months(cql, result.day_partitions)
    else:
        derived = derive_rollups.run(
            get_session(),
            day_partitions=result.day_partitions,
            keyspace=store.keyspace(),
            timestamp=lease.write_timestamp(),
        )
    bump_generations(project for project, *_ in result.day_partitions)
    record_collections(result.day_partitions)
    try:  # the rows are written: a dataset refresh that cannot be queued is only logged
        datasets_on_aggregated(result.day_partitions)
    except Exception:
        logger.exception("queueing the cached datasets' refresh failed")
    return result, derived


def _driver_store(lease: Lease) -> driver_batch.CqlStore:
    """The app's Cassandra session as a small batch's store: the jobs' consistency level,
    every write guarded by ``lease``."""
    from cassandra import ConsistencyLevel

    from spark import driver_batch

    return driver_batch.CqlStore(
        session=store.session(),
        keyspace=store.keyspace(),
        consistency=ConsistencyLevel.name_to_value[settings.CASSANDRA_JOB_CONSISTENCY],
        guard=lease.write_timestamp,
    )


def _record_success(run: JobRun, *, result: AggregationResult, derived: int) -> None:
    """Fill ``run`` in as succeeded (saved by the commit)."""
    run.status = JobRun.Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.records_read = result.records_read
    run.invalid = result.invalid
    run.duplicates = result.duplicates
    run.events_written = result.events_written
    run.deleted = result.deleted
    run.rollup_rows = result.rollup_rows
    run.derived_rows = derived


def _record_failure(run: JobRun, *, exc: BaseException, lease: Lease) -> BaseException:
    """Save ``run`` as failed and return the error to raise: LeaseLost if the lease was
    lost (a Spark job cancelled by the heartbeat surfaces as a Spark error), else ``exc``."""
    # The next attempt connects to Cassandra afresh: after a Cassandra restart the
    # connector's pooled session can be unusable until dropped.
    with suppress(Exception):
        reset_cassandra_connections()
    cancelled = lease.lost is not None and not isinstance(exc, LeaseLost)
    error = LeaseLost(f"fenced: {lease.lost} (token {lease.token})") if cancelled else exc
    run.status = JobRun.Status.FAILED
    run.error = f"{type(error).__name__}: {error}"[:10_000]
    run.finished_at = timezone.now()
    run.save()
    return error
