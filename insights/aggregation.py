"""Run the aggregation now: one run at a time, recorded as a JobRun, offsets committed last.

``run_aggregation`` is what the Celery task and ``manage.py aggregate`` call. It
takes a Redis lock (so two runs never recompute the same buckets at once), plans
the Kafka offset range from the last succeeded run, runs the Spark job and then
the second-stage job on the process's warm SparkSession, and records the outcome.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from contextlib import contextmanager, suppress

import redis
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from events.topics import dlq_topic, event_topics

from .cache import bump_generations
from .models import JobRun, KafkaOffset
from .spark_runtime import get_session

LOCK_PREFIX = "lock:insights.aggregate"
JOB = "aggregate"


class AggregationBusy(RuntimeError):
    """Another aggregation run holds the lock."""


def lock_name() -> str:
    """One lock per keyspace and topic set: runs over different topics never collide."""
    return f"{LOCK_PREFIX}:{cassandra_keyspace()}:{settings.KAFKA_TOPIC_PREFIX}"


@contextmanager
def exclusive_run(*, wait_seconds: float = 0):
    """Hold the aggregation lock for the body; raise AggregationBusy if it is still
    taken after ``wait_seconds``.

    The lock lives ``AGGREGATION_LOCK_TTL_SECONDS`` and a heartbeat thread renews it
    while the body runs, so a killed process frees it within one TTL.
    """
    ttl = settings.AGGREGATION_LOCK_TTL_SECONDS
    client = redis.Redis.from_url(settings.REDIS_URL)
    lock = client.lock(lock_name(), timeout=ttl, thread_local=False)
    if not lock.acquire(blocking=wait_seconds > 0, blocking_timeout=wait_seconds or None):
        client.close()
        raise AggregationBusy("another aggregation run is in progress")
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(ttl / 3):
            with suppress(redis.exceptions.RedisError):
                lock.reacquire()

    renewer = threading.Thread(target=heartbeat, name="aggregation-lock", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        with suppress(redis.exceptions.LockError):  # expired: nothing left to release
            lock.release()
        client.close()


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


def cassandra_keyspace() -> str:
    """The keyspace in use (the test keyspace under tests)."""
    return connections["cassandra"].settings_dict["NAME"]


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
    ).delete()


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
    after ``wait_seconds``; any other failure is recorded on the JobRun and re-raised.
    """
    from spark.offsets import OffsetRange, plan_range

    with exclusive_run(wait_seconds=wait_seconds):
        _abandon_unfinished()
        pending = _unfinished_batch()
        if pending is not None:
            progress(f"redoing batch {pending.batch_id} (run {pending.pk} {pending.status})")
            _run_batch(
                offsets=OffsetRange(start=pending.start_offsets, end=pending.end_offsets),
                batch_id=pending.batch_id,
                trigger=JobRun.Trigger.RETRY,
                progress=progress,
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
        run = _run_batch(offsets=offsets, batch_id=None, trigger=trigger, progress=progress)
        _prune_empty_runs()
        return run


def _run_batch(
    *, offsets, batch_id: int | None, trigger: str, progress: Callable[[str], None]
) -> JobRun:
    """Run both stages over ``offsets`` as one JobRun; commit its offsets on success."""
    from spark.jobs import aggregate, derive_rollups

    run = JobRun.objects.create(
        job=JOB,
        trigger=trigger,
        batch_id=batch_id,
        start_offsets=offsets.start,
        end_offsets=offsets.end,
    )
    if run.batch_id is None:
        run.batch_id = run.pk
        run.save(update_fields=["batch_id"])
    try:
        result = aggregate.run(
            get_session() if offsets.records else None,
            offsets=offsets,
            batch_id=run.batch_id,
            bootstrap=",".join(settings.KAFKA_BOOTSTRAP_SERVERS),
            keyspace=cassandra_keyspace(),
            dlq_topic=dlq_topic(),
            driver_read_max_records=settings.AGGREGATION_DRIVER_READ_MAX_RECORDS,
            progress=progress,
        )
        derived = 0
        if result.day_partitions:
            progress("deriving monthly rollups")
            derived = derive_rollups.run(
                get_session(), day_partitions=result.day_partitions, keyspace=cassandra_keyspace()
            )
            bump_generations(project for project, *_ in result.day_partitions)
    except BaseException as exc:
        run.status = JobRun.Status.FAILED
        run.error = f"{type(exc).__name__}: {exc}"[:10_000]
        run.finished_at = timezone.now()
        run.save()
        raise
    run.status = JobRun.Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.records_read = result.records_read
    run.invalid = result.invalid
    run.duplicates = result.duplicates
    run.events_written = result.events_written
    run.rollup_rows = result.rollup_rows
    run.derived_rows = derived
    with transaction.atomic():
        _commit(offsets.end)
        run.save()
    progress(
        f"done: {run.records_read} read, {run.events_written} new, {run.duplicates} "
        f"duplicates, {run.invalid} invalid, {run.rollup_rows} rollups, {derived} derived"
    )
    return run
