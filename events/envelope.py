"""The internal event envelope every front door produces, its record form, and its errors.

Pure Python: no Django import. ``Envelope.to_record()`` is what goes to Kafka;
``Envelope.from_record()`` reads it back.
"""

from __future__ import annotations

import math
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from spark.schema import CATEGORIES

SOURCES = ("native", "segment", "keen")


def new_event_id() -> str:
    """A new RFC 9562 UUIDv7 string: 48-bit Unix milliseconds, version 7, variant 0b10.

    The 12 ``rand_a`` bits carry the sub-millisecond fraction of the clock (RFC 9562
    §6.2, method 3), so ids sort by creation time across milliseconds and, within one,
    to about 250 ns; the remaining 62 bits are random.
    """
    ns = time.time_ns()
    ms, sub_ms_ns = divmod(ns, 1_000_000)
    rand_a = sub_ms_ns * 4096 // 1_000_000
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))


class RequestEventIds:
    """Event ids for the events of one request that carry none.

    With no request id they are new UUIDv7s. With one (the load balancer's
    ``X-Request-Id``, identical when it retries the request on another instance) the
    n-th id is a UUIDv5 of (project, request id, n): a retried request gets the same
    ids, so its events are counted once.
    """

    NAMESPACE = uuid.UUID("6f9d3c52-2b0e-4c4e-9a57-5d1b2f0f7a10")

    def __init__(self, project_id: str, request_id: str | None) -> None:
        self.prefix = f"{project_id}/{request_id}/" if request_id else None
        self.issued = 0

    def next(self) -> str:
        if self.prefix is None:
            return new_event_id()
        self.issued += 1
        return str(uuid.uuid5(self.NAMESPACE, f"{self.prefix}{self.issued}"))


def to_utc_ms(value: datetime) -> datetime:
    """``value`` in UTC, truncated to whole milliseconds; naive values raise ValueError."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"datetime must be timezone-aware: {value!r}")
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def format_timestamp(value: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a trailing Z: ``2026-11-26T10:03:00.000Z``."""
    naive = to_utc_ms(value).replace(tzinfo=None)
    return naive.isoformat(timespec="milliseconds") + "Z"


def parse_timestamp(value: str) -> datetime:
    """Inverse of :func:`format_timestamp` (any ISO-8601 with an offset or Z is accepted)."""
    return to_utc_ms(datetime.fromisoformat(value))


def numeric_leaves(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Every number in ``tree`` by dotted path, as its exact JSON text
    (``{"cart": {"total": 9.5}}`` -> ``{"cart.total": "9.5"}``); booleans, strings,
    list items and non-finite floats are not numbers here.

    A key holding a dot is a dotted path like a nested one (``{"a.b": 1}`` and
    ``{"a": {"b": 1}}`` are both ``a.b``), as the query filters see it.

    The aggregation job sums these without parsing ``properties`` again, so a JSON
    string such as ``"12"`` is never mistaken for the number 12. The values are text
    (``str`` of an int, ``repr`` of a float) so the job reads the very decimal the
    raw-event scan reads, whatever its size or number of digits (``spark/exact.py``).
    """
    leaves: dict[str, str] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            leaves[path] = str(value)
        elif isinstance(value, float):
            if math.isfinite(value):
                leaves[path] = repr(value)
        elif isinstance(value, dict):
            leaves.update(numeric_leaves(value, f"{path}."))
    return leaves


@dataclass(frozen=True)
class Envelope:
    """One accepted event, whatever door it came through.

    Invariants (enforced on construction): ``category`` in CATEGORIES, ``source`` in
    SOURCES, ``timestamp``/``received_at`` timezone-aware; both are stored in UTC,
    truncated to milliseconds, so ``from_record(to_record())`` is an exact round trip.
    """

    event_id: str
    project_id: str
    name: str
    category: str
    distinct_id: str | None
    timestamp: datetime
    received_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    source: str = "native"

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"category must be one of {', '.join(CATEGORIES)}")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}")
        object.__setattr__(self, "timestamp", to_utc_ms(self.timestamp))
        object.__setattr__(self, "received_at", to_utc_ms(self.received_at))

    def to_record(self) -> dict[str, Any]:
        """A JSON-serialisable dict; datetimes as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
        return {
            "event_id": self.event_id,
            "project_id": self.project_id,
            "name": self.name,
            "category": self.category,
            "distinct_id": self.distinct_id,
            "timestamp": format_timestamp(self.timestamp),
            "received_at": format_timestamp(self.received_at),
            "properties": self.properties,
            "context": self.context,
            "source": self.source,
            "numeric_properties": numeric_leaves(self.properties),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Envelope:
        """The envelope ``record`` was made from; a missing key raises KeyError."""
        return cls(
            event_id=record["event_id"],
            project_id=record["project_id"],
            name=record["name"],
            category=record["category"],
            distinct_id=record["distinct_id"],
            timestamp=parse_timestamp(record["timestamp"]),
            received_at=parse_timestamp(record["received_at"]),
            properties=record["properties"],
            context=record["context"],
            source=record["source"],
        )


@dataclass(frozen=True)
class EventError:
    """One problem with one event: its batch index (None for a single event), the
    dotted field path (``"event"`` for the event as a whole) and a message naming the
    limit."""

    index: int | None
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        """``{"index": ..., "field": ..., "message": ...}`` for the API error body."""
        return {"index": self.index, "field": self.field, "message": self.message}


class EventValidationError(ValueError):
    """Every problem found in one event.

    ``too_large`` is true when the only problem is the per-event size limit, so the
    caller can answer 413 rather than 400.
    """

    def __init__(self, errors: list[EventError], *, too_large: bool = False) -> None:
        self.errors = list(errors)
        self.too_large = too_large
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))
