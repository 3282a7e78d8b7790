"""Celery tasks of the ingestion path."""

from __future__ import annotations

from celery import shared_task
from kafka.errors import KafkaError

from .forwarding import forward_records
from .kafka_producer import reset_producer


@shared_task(
    bind=True,
    name="events.forward_to_kafka",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
    time_limit=300,
    soft_time_limit=240,
)
def forward_to_kafka(self, records: list[dict]) -> int:
    """Produce ``records`` (envelope dicts) to Kafka; retry with backoff until acknowledged.

    Retries never give up (``max_retries=None``): while Kafka is down the
    message waits in Redis and the backoff grows to 60 s.
    """
    try:
        return forward_records(records)
    except (KafkaError, OSError) as exc:
        reset_producer()
        delay = min(60, 2 ** min(self.request.retries, 6))
        raise self.retry(exc=exc, countdown=delay) from exc
