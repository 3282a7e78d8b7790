"""The forwarding ledger: accepted batches stay in Redis until Kafka has them.

Celery's Redis transport pops a message (BRPOP) before it records it as unacked, so
a worker killed in between loses the message; ``acks_late`` cannot help. The ledger
closes that gap. Each accepted request is written here (same Redis, AOF) before its
message is published, and the message carries only the batch key:

- ``pending:<queue>`` (sorted by a global sequence number): published, not yet
  received by a worker. Queues are FIFO, so once a later batch of the same queue has
  been received, an earlier one still pending was lost in flight.
- ``inflight`` (sorted by the time it was last received): kombu's visibility timeout
  owns it now; the ledger acts only if that redelivery fails too.
- ``records``: the batch itself, deleted once Kafka has acknowledged every record.

``sweep`` (run by every forwarding worker, one at a time) republishes lost batches.
A republished batch may be forwarded twice; ``event_id`` makes that harmless.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import redis
from django.conf import settings

PREFIX = "events:ledger:"
RECORDS = PREFIX + "records"
QUEUES = PREFIX + "queues"
INFLIGHT = PREFIX + "inflight"
SEQUENCE = PREFIX + "sequence"
WATERMARKS = PREFIX + "watermarks"
CHECKPOINT = PREFIX + "checkpoint"
SWEEP_LOCK = PREFIX + "sweep-lock"
CHECKPOINT_TIME = "_at"

Publish = Callable[[str, str], None]

# KEYS: records, queues, sequence, pending:<queue>; ARGV: key, queue, records json
_RECORD = """
local seq = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[4], seq, ARGV[1])
return seq
"""

# KEYS: queues, inflight, watermarks, pending prefix; ARGV: key, now
_RECEIVED = """
local queue = redis.call('HGET', KEYS[1], ARGV[1])
if not queue then return 0 end
local pending = KEYS[4] .. queue
local seq = redis.call('ZSCORE', pending, ARGV[1])
if seq then
  redis.call('ZREM', pending, ARGV[1])
  local mark = tonumber(redis.call('HGET', KEYS[3], queue) or '0')
  if tonumber(seq) > mark then redis.call('HSET', KEYS[3], queue, seq) end
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
"""

# KEYS: records, queues, sequence, inflight, pending prefix; ARGV: key
_REQUEUE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return false end
local queue = redis.call('HGET', KEYS[2], ARGV[1])
local seq = redis.call('INCR', KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[5] .. queue, seq, ARGV[1])
return queue
"""


# KEYS: records, queues, inflight, pending prefix; ARGV: key
_FINISHED = """
local queue = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if queue then redis.call('ZREM', KEYS[4] .. queue, ARGV[1]) end
return 1
"""


def _pending(queue: str) -> str:
    return f"{PREFIX}pending:{queue}"


class Ledger:
    """Operations on the ledger in one Redis database (the Celery broker's)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._record = client.register_script(_RECORD)
        self._received = client.register_script(_RECEIVED)
        self._requeue = client.register_script(_REQUEUE)
        self._finished = client.register_script(_FINISHED)

    def record(self, key: str, queue: str, records: list[dict]) -> None:
        """Store a batch as published-but-not-received on ``queue``."""
        self._record(
            keys=[RECORDS, QUEUES, SEQUENCE, _pending(queue)],
            args=[key, queue, json.dumps(records, separators=(",", ":"))],
        )

    def received(self, key: str, now: float | None = None) -> None:
        """A worker holds the batch's message (kombu tracks it as unacked from here)."""
        self._received(
            keys=[QUEUES, INFLIGHT, WATERMARKS, _pending("")],
            args=[key, time.time() if now is None else now],
        )

    def records(self, key: str) -> list[dict] | None:
        """The batch's records, or None once it has been forwarded (or discarded)."""
        raw = self.client.hget(RECORDS, key)
        return None if raw is None else json.loads(raw)

    def finished(self, key: str) -> None:
        """Kafka has every record of the batch (or the request was not accepted)."""
        self._finished(keys=[RECORDS, QUEUES, INFLIGHT, _pending("")], args=[key])

    def sweep(
        self, publish: Publish, *, grace: float, stale_after: float, now: float | None = None
    ) -> list[str]:
        """Republish lost batches; returns their keys.

        Lost means: still pending behind a batch of the same queue that was received
        at least ``grace`` seconds ago (the previous sweep's watermarks), or received
        more than ``stale_after`` seconds ago and neither finished nor received again.
        Only one sweeper runs at a time; the others return at once.
        """
        now = time.time() if now is None else now
        if not self.client.set(SWEEP_LOCK, "1", nx=True, ex=max(1, int(grace))):
            return []
        checkpoint = {k.decode(): float(v) for k, v in self.client.hgetall(CHECKPOINT).items()}
        taken_at = checkpoint.pop(CHECKPOINT_TIME, None)
        if taken_at is not None and now - taken_at < grace:
            return []
        lost: list[bytes] = []
        for queue, mark in checkpoint.items():
            lost += self.client.zrangebyscore(_pending(queue), "-inf", mark)
        lost += self.client.zrangebyscore(INFLIGHT, "-inf", now - stale_after)
        republished = []
        for raw_key in dict.fromkeys(lost):
            key = raw_key.decode()
            queue = self._requeue(
                keys=[RECORDS, QUEUES, SEQUENCE, INFLIGHT, _pending("")], args=[key]
            )
            if queue is not None:
                publish(key, queue.decode())
                republished.append(key)
        marks = self.client.hgetall(WATERMARKS)
        pipe = self.client.pipeline()
        pipe.delete(CHECKPOINT)
        pipe.hset(CHECKPOINT, mapping={**marks, CHECKPOINT_TIME: now})
        pipe.execute()
        return republished


_ledger: Ledger | None = None


def get_ledger() -> Ledger:
    """The process's ledger, on the Celery broker's Redis."""
    global _ledger
    if _ledger is None:
        client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_timeout=5, socket_connect_timeout=2
        )
        _ledger = Ledger(client)
    return _ledger
