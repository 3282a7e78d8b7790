"""Send accepted envelopes to Kafka and wait for every acknowledgement."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from django.conf import settings

from .kafka_producer import get_producer
from .topics import dlq_topic, topic_for

log = logging.getLogger(__name__)


def record_key(record: dict) -> bytes:
    """``project_id:distinct_id``: one user's events stay ordered in one partition."""
    return f"{record.get('project_id', '')}:{record.get('distinct_id') or ''}".encode()


def forward_records(records: Iterable[dict]) -> int:
    """Produce each record to its category topic; return how many were acknowledged.

    Raises the producer's error if any record was not acknowledged within the
    timeout; the caller (a Celery task) retries the whole list, which is safe
    because ``event_id`` makes downstream processing idempotent. A record that
    cannot be serialized goes to the DLQ with the reason instead.
    """
    producer = get_producer()
    futures = []
    for record in records:
        try:
            value = json.dumps(record, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            log.warning("record %s sent to the DLQ: %s", record.get("event_id"), exc)
            dead = {"reason": f"not serializable: {exc}", "record": repr(record)[:10000]}
            futures.append(producer.send(dlq_topic(), json.dumps(dead).encode()))
            continue
        topic = topic_for(record.get("category", "other"))
        futures.append(producer.send(topic, value=value, key=record_key(record)))
    timeout = settings.KAFKA_REQUEST_TIMEOUT_MS / 1000 + 10
    producer.flush(timeout=timeout)
    for future in futures:
        future.get(timeout=timeout)
    return len(futures)
