"""Celery tasks of the ingestion path."""

from __future__ import annotations

from contextlib import suppress

from celery import shared_task
from celery.signals import task_received
from kafka.errors import KafkaError
from redis.exceptions import RedisError

from .forwarding import forward_records
from .kafka_producer import reset_producer
from .ledger import get_ledger


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

    Returns the number of records produced (0 when the batch was already forwarded:
    a redelivered message). Retries never give up (``max_retries=None``): while
    Kafka is down the batch waits in Redis and the backoff grows to 60 s.
    """
    ledger = get_ledger()
    try:
        records = ledger.records(batch_key)
        if records is None:
            return 0
        produced = forward_records(records)
        ledger.finished(batch_key)
        return produced
    except (KafkaError, OSError, RedisError) as exc:
        reset_producer()
        delay = min(60, 2 ** min(self.request.retries, 6))
        raise self.retry(exc=exc, countdown=delay) from exc


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
