"""Run the aggregation now: one run at a time, recorded as a JobRun, offsets committed last.

``run_aggregation`` is what the Celery task and ``manage.py aggregate`` call. It
takes a Redis lock (so two runs never recompute the same buckets at once), plans
the Kafka offset range from the last succeeded run, runs the Spark job and then
the second-stage job on the process's warm SparkSession, and records the outcome.

Fencing: why a run that lost its lock cannot change a number
-------------------------------------------------------------

A lock with a TTL does not by itself give mutual exclusion: a run that stalls past
the TTL (a GC pause, SIGSTOP, a Redis blip) resumes believing it still holds it,
while a newer run has started. So each acquisition of the lock is a *lease* with a
fencing token ``T``, strictly greater than every earlier lease's (``_issue_token``:
at least the previous token + ``FENCE_STRIDE``, and at least the current time in
microseconds), recorded in the database row ``JobFence`` before the run reads any
offset. Then:

1. **Offsets**: a run commits its offsets and its success in one transaction that
   first locks ``JobFence`` and checks it still holds ``T`` (compare-and-set). A
   newer lease raises the fence before planning, so a stale run can never commit
   after it; a commit that got in first is simply what the newer run starts from.
2. **Stopping early**: right before every write stage the run checks its lease
   (``Lease.check``: renewed within the TTL, the Redis lock still its own, the fence
   still ``T``), and the heartbeat, on a lost lock or a renewal it could not make
   within the TTL, marks the lease lost and cancels the run's Spark job group. A
   fenced run ends FAILED with ``LeaseLost`` and commits nothing.
3. **Writes already in flight** (a stage that began while the lease was valid and
   resumes after it was lost) cannot be stopped, so they are made harmless. Every
   Cassandra write of a lease carries ``USING TIMESTAMP T + k`` (``k`` < FENCE_STRIDE
   grows with each write), and a cell keeps the value with the highest timestamp:
   any write of a newer lease beats a stale one, whichever arrives last. Which
   cells can the stale run (batch ``b``) still write? A run creates its JobRun
   before its first write, so when the newer lease starts, ``b`` is the latest run;
   it is marked abandoned and redone first, with the same offsets and the same
   batch id. Batch-id stamping makes that redo exact whatever part of ``b`` the
   stale run had written (stamped ``b`` = not yet seen for event ids and bucket
   users, already applied for rollups, see ``spark.jobs.aggregate``), and the redo
   writes every cell the stale run could write (the same events, the same new users,
   the same rollup keys, the same monthly partitions) with a higher timestamp. So a
   stale write either lands before the redo's (and is overwritten by it, or read by
   it as batch ``b``'s own partial write) or after (and loses to it and to every later
   batch's). Either way the stored numbers are those of one clean run per batch.

The only stale writes that can survive are DLQ copies of invalid records (Kafka
cannot be fenced); a redo re-sends those anyway, so the DLQ is at-least-once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

import redis
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from events.topics import dlq_topic, event_topics

from .cache import bump_generations
from .models import JobFence, JobRun, KafkaOffset
from .spark_runtime import cancel_job_group, get_session, reset_cassandra_connections

if TYPE_CHECKING:  # the Spark modules load pyspark: imported where a run needs them
    from spark.jobs.aggregate import AggregationResult, Progress
    from spark.offsets import OffsetRange

logger = logging.getLogger(__name__)

LOCK_PREFIX = "lock:insights.aggregate"
JOB = "aggregate"
# Write timestamps a lease may use: token + 1 .. token + FENCE_STRIDE - 1 (microseconds).
FENCE_STRIDE = 1000


class AggregationBusy(RuntimeError):
    """Another aggregation run holds the lock."""


class LeaseLost(RuntimeError):
    """This run no longer holds the aggregation lease (its lock expired or was taken
    by a newer run): it must not write or commit anything more."""


class Lease:
    """One holding of the aggregation lock, with its fencing token (see the module
    docstring). ``check`` raises LeaseLost once the lease is lost; ``lose`` marks it
    lost (from any thread) and runs the ``on_lost`` callbacks once."""

    def __init__(self, *, lock: redis.lock.Lock, token: int, ttl: float) -> None:
        self.token = token
        self.job_group = f"aggregate-{token}"
        self._lock = lock
        self._ttl = ttl
        self._deadline = time.monotonic() + ttl
        self._writes = 0
        self._lost: str | None = None
        self._mutex = threading.Lock()
        self.on_lost: list[Callable[[], None]] = []

    @property
    def lost(self) -> str | None:
        """Why the lease was lost, or None while it is held."""
        return self._lost

    def renewed(self, *, sent_at: float) -> None:
        """The lock was renewed by a request sent at ``sent_at`` (time.monotonic)."""
        self._deadline = sent_at + self._ttl

    def expired(self) -> bool:
        return time.monotonic() >= self._deadline

    def lose(self, reason: str) -> None:
        with self._mutex:
            if self._lost is not None:
                return
            self._lost = reason
        logger.error("aggregation lease %s lost: %s; the run stops", self.token, reason)
        for callback in self.on_lost:
            with suppress(Exception):
                callback()

    def check(self) -> None:
        """Raise LeaseLost unless the lease is still held: renewed within the TTL, the
        Redis lock still this run's, and the database fence still this token."""
        if self._lost is None and self.expired():
            self.lose(f"not renewed within the {self._ttl:g}s lock TTL")
        if self._lost is None:
            try:
                owned = self._lock.owned()
            except redis.exceptions.RedisError as exc:
                self.lose(f"cannot confirm the lock: {type(exc).__name__}: {exc}")
            else:
                if not owned:
                    self.lose("the lock expired or was taken by another run")
        if self._lost is None:
            fence = JobFence.objects.filter(job=JOB).values_list("token", flat=True).first()
            if fence != self.token:
                self.lose(f"a newer run holds fencing token {fence}")
        if self._lost is not None:
            raise LeaseLost(f"fenced: {self._lost} (token {self.token})")

    def write_timestamp(self) -> int:
        """Check the lease, then return the timestamp (microseconds) of the next write:
        greater than this lease's earlier ones and less than any newer lease's."""
        self.check()
        self._writes += 1
        if self._writes >= FENCE_STRIDE:
            raise RuntimeError(f"a lease has room for {FENCE_STRIDE - 1} writes")
        return self.token + self._writes


def _issue_token(client: redis.Redis) -> int:
    """A fencing token greater by FENCE_STRIDE than the last one issued for this lock,
    and not below the current time in microseconds (Redis's clock and ours), so a
    lease's write timestamps also beat cells written before fencing existed."""
    key = f"{lock_name()}:fence"
    with client.pipeline() as pipe:
        while True:
            try:
                pipe.watch(key)
                previous = int(pipe.get(key) or 0)
                seconds, micros = pipe.time()
                token = max(
                    previous + FENCE_STRIDE, seconds * 1_000_000 + micros, time.time_ns() // 1000
                )
                pipe.multi()
                pipe.set(key, token)
                pipe.execute()
                return token
            except redis.exceptions.WatchError:
                continue


def _raise_fence(token: int) -> int:
    """Record ``token`` as the job's current fence and return it (raised above the
    stored fence if Redis lost its counter): from now on older leases cannot commit."""
    with transaction.atomic():
        fence, created = JobFence.objects.select_for_update().get_or_create(
            job=JOB, defaults={"token": token}
        )
        if not created:
            token = max(token, fence.token + FENCE_STRIDE)
            fence.token = token
            fence.save(update_fields=["token", "updated_at"])
    return token


def lock_name() -> str:
    """One lock per keyspace and topic set: runs over different topics never collide."""
    return f"{LOCK_PREFIX}:{cassandra_keyspace()}:{settings.KAFKA_TOPIC_PREFIX}"


@contextmanager
def exclusive_run(*, wait_seconds: float = 0) -> Iterator[Lease]:
    """Hold the aggregation lock for the body and yield its Lease; raise
    AggregationBusy if it is still taken after ``wait_seconds``.

    The lock lives ``AGGREGATION_LOCK_TTL_SECONDS`` and a heartbeat thread renews it
    while the body runs, so a killed process frees it within one TTL. If the lock is
    lost (taken by another run, or not renewed within the TTL), the heartbeat marks
    the lease lost, which cancels the run's Spark jobs; the body must ``check`` the
    lease before each write.
    """
    ttl = settings.AGGREGATION_LOCK_TTL_SECONDS
    client = redis.Redis.from_url(settings.REDIS_URL)
    lock = client.lock(lock_name(), timeout=ttl, thread_local=False)
    if not lock.acquire(blocking=wait_seconds > 0, blocking_timeout=wait_seconds or None):
        client.close()
        raise AggregationBusy("another aggregation run is in progress")
    sent_at = time.monotonic()
    try:
        token = _raise_fence(_issue_token(client))
    except BaseException:
        with suppress(redis.exceptions.RedisError):
            lock.release()
        client.close()
        raise
    lease = Lease(lock=lock, token=token, ttl=ttl)
    lease.renewed(sent_at=sent_at)
    lease.on_lost.append(lambda: cancel_job_group(lease.job_group))
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(ttl / 4) and lease.lost is None:
            sent_at = time.monotonic()
            try:
                lock.reacquire()
            except redis.exceptions.LockNotOwnedError:
                lease.lose("the lock expired or was taken by another run")
            except redis.exceptions.RedisError as exc:
                if lease.expired():
                    lease.lose(f"renewal failed past the TTL: {type(exc).__name__}: {exc}")
            else:
                lease.renewed(sent_at=sent_at)

    renewer = threading.Thread(target=heartbeat, name="aggregation-lock", daemon=True)
    renewer.start()
    try:
        yield lease
    finally:
        stop.set()
        renewer.join()
        # Expired or taken (LockError), or Redis unreachable: nothing left to release.
        with suppress(redis.exceptions.RedisError):
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
        _prune_empty_runs()
        return run


# What the connector says when its pooled session lost Cassandra for good (a restart
# while it sat idle); dropping the pool (``reset_cassandra_connections``) cures it.
STALE_CONNECTION_MARKERS = (
    "Control channel not available",
    "AllNodesFailedException",
    "NodeUnavailableException",
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
        return _run_batch(
            offsets=offsets,
            batch_id=failed.batch_id,
            trigger=JobRun.Trigger.RETRY,
            progress=progress,
            lease=lease,
        )


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
    from spark.jobs import aggregate, derive_rollups

    batch_id = run.batch_id
    assert batch_id is not None  # _start_run gives every run its batch id
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
        keyspace=cassandra_keyspace(),
        dlq_topic=dlq_topic(),
        driver_read_max_records=settings.AGGREGATION_DRIVER_READ_MAX_RECORDS,
        progress=progress,
        guard=lease.write_timestamp,
    )
    if not result.day_partitions:
        return result, 0
    progress("deriving monthly rollups")
    derived = derive_rollups.run(
        get_session(),
        day_partitions=result.day_partitions,
        keyspace=cassandra_keyspace(),
        timestamp=lease.write_timestamp(),
    )
    bump_generations(project for project, *_ in result.day_partitions)
    return result, derived


def _record_success(run: JobRun, *, result: AggregationResult, derived: int) -> None:
    """Fill ``run`` in as succeeded (saved by the commit)."""
    run.status = JobRun.Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.records_read = result.records_read
    run.invalid = result.invalid
    run.duplicates = result.duplicates
    run.events_written = result.events_written
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
