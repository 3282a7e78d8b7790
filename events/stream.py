"""The ingestion buffer: accepted events wait in sharded Redis Streams until Kafka has them.

Web side (:func:`append`): one Lua script per request, so one Redis round trip that
checks the client's failed-authentication lockout, counts the key's rate limit,
appends every event (its Kafka topic, key and value bytes, encoded once) to the
stream of its shard (``<EVENTS_STREAM_PREFIX>:<n>``, n from the Kafka key, so one
user's events stay in one shard) and sets each touched shard's "drain scheduled"
flag with ``SET NX``. With AOF ``appendfsync always`` the reply
comes after the fsync; Redis writes the AOF once per event-loop turn, so concurrent
requests share one fsync. The caller publishes a drain task only for the shards whose
flag it set.

Forwarding side (:func:`drain`): a consumer group per stream. A drain reads up to
``EVENTS_DRAIN_BATCH`` entries (first its own pending ones, then entries another
consumer left pending longer than ``EVENTS_STREAM_CLAIM_IDLE_SECONDS`` via
``XAUTOCLAIM``, then new ones), produces them, waits for every acknowledgement and
only then ``XACK``s and deletes them. A drain killed at any point leaves its entries
pending for the next one: at-least-once, and ``event_id`` absorbs the duplicates.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from redis.commands.core import Script
from redis.typing import EncodableT, XReadGroupResponse

log = logging.getLogger(__name__)

GROUP = "forwarders"
TOPIC, KEY, VALUE = b"t", b"k", b"v"

# KEYS: rate counter, failed-auth counter, streams 1..n, flags 1..n
# ARGV: rate limit (0 = none), window ttl, flag ttl, failed-auth limit (0 = none),
#       then (shard, topic, key, value) * m
_APPEND = """
local lockout = tonumber(ARGV[4])
if lockout > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= lockout then
  return -2
end
local limit = tonumber(ARGV[1])
if limit > 0 then
  local count = redis.call('INCR', KEYS[1])
  if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
  if count > limit then return -1 end
end
local shards = (#KEYS - 2) / 2
local used = {}
for i = 5, #ARGV, 4 do
  local s = tonumber(ARGV[i])
  redis.call('XADD', KEYS[2 + s], '*', 't', ARGV[i + 1], 'k', ARGV[i + 2], 'v', ARGV[i + 3])
  used[s] = true
end
local triggered = {}
for s = 1, shards do
  if used[s] and redis.call('SET', KEYS[2 + shards + s], '1', 'NX', 'EX', ARGV[3]) then
    triggered[#triggered + 1] = s
  end
end
return triggered
"""


# KEYS: stream; ARGV: group, consumer. Deletes the consumer only if it holds nothing.
_FORGET_CONSUMER = """
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2]) + 1
"""


@dataclass(frozen=True)
class Encoded:
    """One event as Kafka will hold it: built once by the web, forwarded unchanged."""

    topic: str
    key: bytes
    value: bytes


@dataclass(frozen=True)
class Entry:
    """One stream entry read back by a drain."""

    id: bytes
    topic: str
    key: bytes
    value: bytes


class RateLimited(Exception):
    """The key's ingestion rate limit is used up for the current window."""


class LockedOut(Exception):
    """The client's address is locked out for failed authentications."""


_client: redis.Redis | None = None
_client_pid: int | None = None
_append_script: Script | None = None
_groups: set[str] = set()  # streams whose group this process has made sure of


def client() -> redis.Redis:
    """The process's client of the stream Redis (the Celery broker's, with AOF)."""
    global _client, _client_pid, _append_script
    if _client is None or _client_pid != os.getpid():
        _client = redis.Redis.from_url(
            settings.EVENTS_STREAM_REDIS_URL, socket_timeout=5, socket_connect_timeout=2
        )
        _append_script = _client.register_script(_APPEND)  # EVALSHA, loaded on first use
        _groups.clear()
        _client_pid = os.getpid()
    return _client


def stream_keys(prefix: str | None = None) -> list[str]:
    """Every shard's stream key."""
    prefix = prefix or settings.EVENTS_STREAM_PREFIX
    return [f"{prefix}:{shard}" for shard in range(settings.EVENTS_STREAM_SHARDS)]


def flag_key(stream: str) -> str:
    """The key that says a drain of ``stream`` is scheduled or running."""
    return f"{stream}:drain-scheduled"


def claim_schedule(stream: str) -> bool:
    """Set ``stream``'s drain flag if unset; True if this call set it (so must schedule)."""
    return bool(client().set(flag_key(stream), "1", nx=True, ex=settings.EVENTS_DRAIN_FLAG_SECONDS))


def keep_scheduled(stream: str, *, seconds: float) -> None:
    """Keep ``stream``'s drain flag set for ``seconds``: a drain will run by then."""
    client().set(flag_key(stream), "1", ex=max(1, int(seconds + 0.999)))


def shard_of(key: bytes, shards: int) -> int:
    """The shard of a Kafka key: stable across processes and restarts."""
    return zlib.crc32(key) % shards


def append(
    events: list[Encoded],
    *,
    rate_key: str | None,
    limit: int,
    window: int,
    lockout_key: str | None = None,
    lockout_limit: int = 0,
) -> list[str]:
    """Check the client's lockout, count one request against ``rate_key`` and append
    ``events``, in one round trip (one script, atomic: all or nothing).

    Raises LockedOut when the counter ``lockout_key`` has reached ``lockout_limit``,
    RateLimited when the request count exceeds ``limit`` (0: no limit); nothing is
    appended then. Returns the streams whose drain flag this call set: the caller
    schedules a drain for each.
    """
    streams = stream_keys()
    shards = len(streams)
    args: list[EncodableT] = [
        limit if rate_key else 0,
        window + 1,
        settings.EVENTS_DRAIN_FLAG_SECONDS,
        lockout_limit if lockout_key else 0,
    ]
    for event in events:
        args += [shard_of(event.key, shards) + 1, event.topic, event.key, event.value]
    keys = [
        rate_key or "ratelimit:none",
        lockout_key or "authfail:none",
        *streams,
        *(flag_key(s) for s in streams),
    ]
    client()
    assert _append_script is not None  # client() registers it with the client
    result = _append_script(keys=keys, args=args)
    if result == -2:
        raise LockedOut()
    if result == -1:
        raise RateLimited()
    return [streams[int(shard) - 1] for shard in result]


def consumer_name() -> str:
    """This process's consumer name in every group."""
    return f"{socket.gethostname()}-{os.getpid()}"


def _ensure_group(redis_client: redis.Redis, stream: str) -> None:
    """Create the group at the stream's start (id 0: nothing appended before is skipped),
    once per process and stream."""
    if stream in _groups:
        return
    try:
        redis_client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    _groups.add(stream)


def _read_entries(reply: XReadGroupResponse) -> list[Any]:
    """The entries of the one stream an ``XREADGROUP`` read: this client speaks RESP2,
    so the reply is ``[[stream, entries]]``, or empty when nothing was read."""
    if not isinstance(reply, list):
        raise TypeError(f"unexpected XREADGROUP reply (not RESP2?): {type(reply).__name__}")
    return reply[0][1] if reply else []


def _entries(stream: str, raw: list[Any]) -> list[Entry]:
    entries = []
    gone = []
    for entry_id, fields in raw:
        if not fields:  # deleted while pending: nothing left to forward
            gone.append(entry_id)
            continue
        entries.append(
            Entry(
                id=entry_id,
                topic=fields.get(TOPIC, b"").decode(),
                key=fields.get(KEY, b""),
                value=fields.get(VALUE, b""),
            )
        )
    if gone:
        client().xack(stream, GROUP, *gone)
    return entries


def read_recovered(stream: str, *, consumer: str, count: int) -> list[Entry]:
    """Entries to redo before new ones: ``consumer``'s own pending ones (a retried drain),
    else entries idle past the claim time in a dead consumer's hands (``XAUTOCLAIM``)."""
    redis_client = client()
    _ensure_group(redis_client, stream)
    try:
        own = redis_client.xreadgroup(GROUP, consumer, {stream: "0"}, count=count)
    except redis.ResponseError as exc:
        if "NOGROUP" in str(exc):  # the stream was deleted and made again
            _groups.discard(stream)
        raise
    entries = _entries(stream, _read_entries(own))
    if entries:
        return entries
    idle_ms = int(settings.EVENTS_STREAM_CLAIM_IDLE_SECONDS * 1000)
    claimed = redis_client.xautoclaim(stream, GROUP, consumer, idle_ms, "0-0", count=count)
    entries = _entries(stream, claimed[1])
    if entries:
        log.warning("took over %d entries of %s left by a dead consumer", len(entries), stream)
    return entries


def read_new(stream: str, *, consumer: str, count: int, block_ms: int | None = None) -> list[Entry]:
    """Entries never delivered to any consumer, up to ``count``; with ``block_ms``, wait
    that long for the first one to arrive (returning as soon as one does)."""
    fresh = client().xreadgroup(GROUP, consumer, {stream: ">"}, count=count, block=block_ms)
    return _entries(stream, _read_entries(fresh))


def done(stream: str, entries: list[Entry]) -> None:
    """Kafka has ``entries``: acknowledge and delete them, and keep the drain flag alive."""
    ids = [entry.id for entry in entries]
    pipe = client().pipeline(transaction=True)
    pipe.xack(stream, GROUP, *ids)
    pipe.xdel(stream, *ids)
    pipe.expire(flag_key(stream), settings.EVENTS_DRAIN_FLAG_SECONDS)
    pipe.execute()


Forward = Callable[[list[Entry]], object]

FAULT_POINTS = ("before_read", "after_read", "after_produce", "before_ack")


def fault_point(name: str) -> None:
    """SIGKILL this process at ``name`` if ``EVENTS_DRAIN_KILL_AT`` names it: how the
    fault tests kill a drain at an exact point. Empty (never set it in production)."""
    if name == settings.EVENTS_DRAIN_KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)


def drain(
    stream: str, *, forward: Forward, consumer: str, budget_seconds: float
) -> tuple[int, float | None]:
    """Forward ``stream``'s entries until it stays empty for ``EVENTS_DRAIN_LINGER_MS`` or
    ``budget_seconds`` have passed.

    Entries to redo (:func:`read_recovered`) come first. ``forward`` must raise unless
    every entry is on Kafka (or in the DLQ). Returns (entries forwarded, seconds after
    which another drain must run, or None): 0 when the budget ran out; the claim time
    when entries remain pending with another consumer (alive and busy, or dead: the
    next drain takes them over). The flag is cleared before the last read, so a request
    appending after that read schedules a drain of its own. Lingering keeps one drain
    per shard running under steady load, so requests publish no tasks; a drain that
    finds the flag taken by a request after its last read hands the stream over to the
    drain that request published.
    """
    count = settings.EVENTS_DRAIN_BATCH
    deadline = time.monotonic() + budget_seconds
    forwarded = 0
    fault_point("before_read")
    entries = read_recovered(stream, consumer=consumer, count=count)
    while True:
        if not entries:
            linger = settings.EVENTS_DRAIN_LINGER_MS
            entries = read_new(stream, consumer=consumer, count=count, block_ms=linger or None)
            if 0 < len(entries) < count and settings.EVENTS_DRAIN_COLLECT_MS:
                # A trickle: let a few more arrive, so one produce round serves many.
                time.sleep(settings.EVENTS_DRAIN_COLLECT_MS / 1000)
                entries += read_new(stream, consumer=consumer, count=count - len(entries))
        handed_over = False
        if not entries:
            client().delete(flag_key(stream))
            entries = read_new(stream, consumer=consumer, count=count)
            if not entries:
                held = client().xlen(stream)
                return forwarded, settings.EVENTS_STREAM_CLAIM_IDLE_SECONDS if held else None
            # Entries arrived since the flag was cleared. Their request may have set it
            # and published a drain: then that drain goes on and this one ends after
            # these entries, so that one shard never has two drain chains.
            handed_over = not claim_schedule(stream)
        fault_point("after_read")
        forward(entries)
        fault_point("before_ack")
        done(stream, entries)
        forwarded += len(entries)
        entries = []
        if handed_over:
            return forwarded, None
        if time.monotonic() >= deadline:
            return forwarded, 0.0


def forget_idle_consumers(stream: str, *, idle_seconds: float) -> list[str]:
    """Delete the consumers of ``stream``'s group idle longer than ``idle_seconds`` that
    hold no pending entry (workers that exited: each process reads under its own name);
    the names deleted. The pending check and the delete are one script, so a consumer
    that took entries meanwhile is kept and its entries stay pending for ``XAUTOCLAIM``."""
    redis_client = client()
    try:
        consumers = redis_client.xinfo_consumers(stream, GROUP)
    except redis.ResponseError:  # no stream or no group yet
        return []
    forgotten = []
    for consumer in consumers:
        name = consumer["name"]
        if consumer["pending"] or consumer["idle"] < idle_seconds * 1000:
            continue
        if redis_client.eval(_FORGET_CONSUMER, 1, stream, GROUP, name):
            forgotten.append(name.decode() if isinstance(name, bytes) else name)
    return forgotten


def _appended_ms(entry_id: bytes | str | None) -> int:
    """When an entry was appended: its id starts with the Unix time in milliseconds."""
    if not isinstance(entry_id, bytes):  # this client does not decode replies
        raise TypeError(f"unexpected stream entry id: {entry_id!r}")
    return int(entry_id.split(b"-")[0])


def overdue(prefix: str | None = None, *, older_than: float) -> list[str]:
    """Streams whose oldest entry was appended more than ``older_than`` seconds ago:
    a drain trigger was lost or a drain died. Entry ids start with their append time."""
    redis_client = client()
    now_ms = time.time() * 1000
    late = []
    for stream in stream_keys(prefix):
        first = redis_client.xrange(stream, count=1)
        if first and _appended_ms(first[0][0]) <= now_ms - older_than * 1000:
            late.append(stream)
    return late


def waiting(prefix: str | None = None) -> tuple[int, float]:
    """(events accepted and not yet on Kafka, seconds the oldest of them has waited)."""
    redis_client = client()
    pipe = redis_client.pipeline(transaction=False)
    for key in stream_keys(prefix):
        pipe.xlen(key)
        pipe.xrange(key, count=1)
    answers = pipe.execute()
    count = sum(answers[0::2])
    firsts = [_appended_ms(first[0][0]) for first in answers[1::2] if first]
    oldest = time.time() - min(firsts) / 1000 if firsts else 0.0
    return count, max(0.0, oldest)
