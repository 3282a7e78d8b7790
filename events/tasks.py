"""Celery tasks of the ingestion path."""

from __future__ import annotations

from contextlib import suppress

from celery import shared_task
from celery.signals import task_received
from django.conf import settings
from kafka.errors import KafkaError
from redis.exceptions import RedisError

from .forwarding import forward_records, send_dead_letters
from .kafka_producer import reset_producer
from .ledger import RECORDS, get_ledger


@shared_task(
    bind=True,
    name="events.forward_to_kafka",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
    time_limit=300,
    soft_time_limit=240,
)
def forward_to_kafka(self, batch_key: str) -> int:
    """Produce the ledger batch ``batch_key`` to Kafka, then drop it from the ledger.

    Returns the number of records produced to their topics (0 when the batch was
    already forwarded: a redelivered message). Records that can never be produced go
    to the DLQ with their reason (``forward_records``). Transient failures (Kafka or
    Redis unreachable) are retried without end, with a backoff growing to 60 s: the
    batch waits in Redis meanwhile. Any other failure is retried
    ``FORWARD_MAX_UNEXPECTED_FAILURES`` times, then the whole batch goes to the DLQ
    with the error as its reason: nothing retries forever, nothing vanishes.
    """
    ledger = get_ledger()
    try:
        records = ledger.records(batch_key)
        if records is None:
            return 0
        forwarded = forward_records(records)
        ledger.finished(batch_key)
        return forwarded.produced
    except (KafkaError, OSError, RedisError) as exc:
        reset_producer()
        delay = min(60, 2 ** min(self.request.retries, 6))
        raise self.retry(exc=exc, countdown=delay) from exc
    except Exception as exc:
        failures = unexpected_failures(batch_key)
        if failures < settings.FORWARD_MAX_UNEXPECTED_FAILURES:
            raise self.retry(exc=exc, countdown=min(60, 2**failures)) from exc
        dead_letter_batch(batch_key, reason=f"forwarding failed: {type(exc).__name__}: {exc}")
        return 0


def unexpected_failures(batch_key: str) -> int:
    """Count one more unexpected failure of ``batch_key``; return the count so far."""
    client = get_ledger().client
    key = f"events:forward-failures:{batch_key}"
    count, _ = client.pipeline().incr(key).expire(key, 86_400).execute()
    return int(count)


def dead_letter_batch(batch_key: str, *, reason: str) -> None:
    """Send every record of ``batch_key`` to the DLQ with ``reason``; drop the batch."""
    ledger = get_ledger()
    try:
        records = ledger.records(batch_key)
    except ValueError as exc:  # the stored batch itself is unreadable
        raw = ledger.client.hget(RECORDS, batch_key)
        records = [{"unreadable_batch": repr(raw)[:100_000], "error": str(exc)}]
    if records is None:
        return
    items = records if isinstance(records, list) else [records]
    send_dead_letters([(record, reason) for record in items], stage="forward")
    ledger.finished(batch_key)


def republish(batch_key: str, queue: str) -> None:
    """Publish a forwarding message for a batch already in the ledger."""
    forward_to_kafka.apply_async(args=[batch_key], task_id=batch_key, queue=queue)


@task_received.connect
def _mark_received(sender=None, request=None, **_kwargs) -> None:
    """From here kombu tracks the message as unacked; the ledger stops watching its queue.

    A Redis error leaves the batch pending, so a sweep may republish it: a harmless
    duplicate, never a loss.
    """
    if request is not None and request.name == forward_to_kafka.name:
        with suppress(RedisError):
            get_ledger().received(request.id)
