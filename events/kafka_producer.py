"""The one Kafka producer of the web/worker processes: created lazily, never at import.

acks=all with the idempotent producer, so an acknowledged record is on every
in-sync replica and a retried send is not written twice by the broker.
"""

from __future__ import annotations

import os
import threading

from django.conf import settings
from kafka import KafkaProducer

_lock = threading.Lock()
_producer: KafkaProducer | None = None
_producer_pid: int | None = None


def get_producer() -> KafkaProducer:
    """The process-wide producer (re-created after a fork)."""
    global _producer, _producer_pid
    with _lock:
        if _producer is None or _producer_pid != os.getpid():
            _producer = KafkaProducer(
                bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                # A drain sends up to EVENTS_DRAIN_BATCH records at once: large batches
                # mean few produce requests. One record may be as large as the broker
                # takes (an event at max_event_bytes stays far below it; larger ones
                # are refused here and go to the DLQ).
                batch_size=settings.KAFKA_PRODUCER_BATCH_BYTES,
                max_request_size=settings.KAFKA_MAX_REQUEST_BYTES,
                request_timeout_ms=settings.KAFKA_REQUEST_TIMEOUT_MS,
                delivery_timeout_ms=settings.KAFKA_REQUEST_TIMEOUT_MS + 5000,
                max_block_ms=settings.KAFKA_REQUEST_TIMEOUT_MS,
                client_id=f"analytics-{os.getpid()}",
            )
            _producer_pid = os.getpid()
        return _producer


def reset_producer() -> None:
    """Close and forget the producer (after errors, so the next call reconnects)."""
    global _producer
    with _lock:
        if _producer is not None:
            try:
                _producer.close(timeout=5)
            finally:
                _producer = None
