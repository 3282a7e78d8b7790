"""Encode accepted envelopes once, send them to Kafka and wait for every acknowledgement.

A record either reaches its category topic or, if it can never be produced (Kafka
refuses it for good, such as a record over the producer's size limit), the
dead-letter topic with the reason. Only transient failures (Kafka unreachable,
timeouts) raise, so the caller retries.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from kafka.errors import KafkaError
from kafka.producer.future import FutureRecordMetadata

from .envelope import Envelope
from .kafka_producer import get_producer
from .stream import Encoded, fault_point
from .topics import dlq_topic, topic_for

log = logging.getLogger(__name__)

DEAD_LETTER_RECORD_CHARS = 100_000


class Produced(Protocol):
    """A record ready for Kafka (``stream.Encoded`` and ``stream.Entry`` are).

    Read-only members, so that frozen dataclasses match."""

    @property
    def topic(self) -> str: ...
    @property
    def key(self) -> bytes: ...
    @property
    def value(self) -> bytes: ...


@dataclass(frozen=True)
class Forwarded:
    """What one forwarding pass did: records acknowledged on their topic, and in the DLQ."""

    produced: int
    dead_lettered: int


def ack_timeout() -> float:
    """Seconds to wait for a flush or an acknowledgement: past the producer's own
    delivery timeout (``events.kafka_producer``), so the producer reports first."""
    return settings.KAFKA_REQUEST_TIMEOUT_MS / 1000 + 10


def record_key(record: dict) -> bytes:
    """``project_id:distinct_id``: one user's events stay ordered in one partition."""
    return f"{record.get('project_id', '')}:{record.get('distinct_id') or ''}".encode()


def encode_record(record: dict) -> tuple[bytes, bytes]:
    """(value, key) as produced; TypeError/ValueError if the record cannot be encoded."""
    value = json.dumps(record, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    return value.encode(), record_key(record)


def encode_envelope(envelope: Envelope) -> Encoded:
    """The event's Kafka topic, key and value bytes: encoded here, once, by the web.

    TypeError/ValueError if it cannot be encoded (the caller rejects that event)."""
    record = envelope.to_record()
    value, key = encode_record(record)
    return Encoded(topic=topic_for(envelope.category), key=key, value=value)


def dead_letter(*, record: object, reason: str, stage: str = "forward") -> bytes:
    """The DLQ value for ``record``: always encodable JSON, the record kept when it can
    be (as JSON, else its repr), cut at ``DEAD_LETTER_RECORD_CHARS``."""
    try:
        kept: object = json.loads(json.dumps(record, allow_nan=False))
        if len(json.dumps(kept)) > DEAD_LETTER_RECORD_CHARS:
            kept = json.dumps(kept)[:DEAD_LETTER_RECORD_CHARS]
    except (TypeError, ValueError, RecursionError):
        kept = repr(record)[:DEAD_LETTER_RECORD_CHARS]
    event_id = record.get("event_id") if isinstance(record, dict) else None
    project_id = record.get("project_id") if isinstance(record, dict) else None
    dead = {
        "reason": reason,
        "stage": stage,
        "event_id": event_id if isinstance(event_id, str) else None,
        "project_id": project_id if isinstance(project_id, str) else None,
        "record": kept,
    }
    return json.dumps(dead).encode()  # ensure_ascii: any surrogate is escaped, never raised


def _permanent(exc: KafkaError) -> bool:
    return not getattr(exc, "retriable", False)


def dead_record(value: bytes) -> object:
    """What a dead letter keeps of a value: its JSON when it parses, else its text."""
    try:
        return json.loads(value)
    except ValueError:
        return value.decode("utf-8", "replace")


def forward_encoded(events: Iterable[Produced]) -> Forwarded:
    """Produce each (topic, key, value) as is and wait for every acknowledgement.

    A record that can never be produced (Kafka or the producer refuses it for good,
    such as a record over the size limit) goes to the DLQ with its reason instead.
    Raises on a transient failure (the caller retries the whole list, which is safe
    because ``event_id`` makes downstream processing idempotent) and if a dead
    letter itself is not acknowledged.
    """
    producer = get_producer()
    timeout = ack_timeout()
    sent: list[tuple[bytes, FutureRecordMetadata]] = []
    dead: list[tuple[object, str]] = []
    for event in events:
        try:
            future = producer.send(event.topic, event.value, event.key)
        except KafkaError as exc:
            if not _permanent(exc):
                raise
            reason = f"refused by the producer: {type(exc).__name__}: {exc}"
            dead.append((dead_record(event.value), reason))
            continue
        sent.append((event.value, future))
    fault_point("after_produce")
    producer.flush(timeout=timeout)
    produced = 0
    for value, future in sent:
        try:
            future.get(timeout=timeout)
        except KafkaError as exc:
            if not _permanent(exc):
                raise
            dead.append((dead_record(value), f"refused by Kafka: {type(exc).__name__}: {exc}"))
            continue
        produced += 1
    send_dead_letters(dead)
    return Forwarded(produced=produced, dead_lettered=len(dead))


def send_dead_letters(dead: list[tuple[object, str]], *, stage: str = "forward") -> None:
    """Produce ``(record, reason)`` pairs to the DLQ and wait for their acks (raises if not)."""
    if not dead:
        return
    producer = get_producer()
    timeout = ack_timeout()
    futures = []
    for record, reason in dead:
        event_id = record.get("event_id") if isinstance(record, dict) else None
        log.error("event %s sent to the dead-letter topic: %s", event_id, reason)
        futures.append(
            producer.send(dlq_topic(), dead_letter(record=record, reason=reason, stage=stage))
        )
    producer.flush(timeout=timeout)
    for future in futures:
        future.get(timeout=timeout)
