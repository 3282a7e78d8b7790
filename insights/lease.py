"""The aggregation lock: one run at a time, each holding of it a *lease* with a fencing
token.

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

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import redis
from django.conf import settings
from django.db import transaction

from . import store
from .models import JobFence
from .spark_runtime import cancel_job_group

logger = logging.getLogger(__name__)

JOB = "aggregate"
LOCK_PREFIX = "lock:insights.aggregate"
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
    return f"{LOCK_PREFIX}:{store.keyspace()}:{settings.KAFKA_TOPIC_PREFIX}"


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
