"""The envelope, its record form, UUIDv7 ids, error types and the limits object."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from events.envelope import (
    CATEGORIES,
    Envelope,
    EventError,
    EventValidationError,
    format_timestamp,
    new_event_id,
)
from events.limits import Limits, current_limits, limits_from_mapping

if TYPE_CHECKING:
    from pytest_django.fixtures import Settings

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def make_envelope(**overrides: Any) -> Envelope:
    fields = {
        "event_id": "0190f0c2-0000-7000-8000-000000000001",
        "project_id": "p1",
        "name": "Order Completed",
        "category": "web",
        "distinct_id": "u1",
        "timestamp": datetime(2026, 11, 26, 10, 3, tzinfo=UTC),
        "received_at": datetime(2026, 11, 26, 10, 3, 5, 123000, tzinfo=UTC),
        "properties": {"total": 9.5, "items": [{"sku": "a"}], "user": {"id": 7}},
        "context": {"library": {"name": "analytics.js"}},
        "source": "segment",
    }
    return Envelope(**{**fields, **overrides})


# --- UUIDv7 ------------------------------------------------------------------------------


def test_new_event_id_is_rfc9562_uuid7() -> None:
    before_ms = time.time_ns() // 1_000_000
    event_id = new_event_id()
    after_ms = time.time_ns() // 1_000_000
    assert UUID7.match(event_id)
    parsed = uuid.UUID(event_id)
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert before_ms <= parsed.int >> 80 <= after_ms


def test_new_event_ids_are_unique() -> None:
    ids = {new_event_id() for _ in range(10_000)}
    assert len(ids) == 10_000


def test_new_event_ids_sort_by_creation_time_across_milliseconds() -> None:
    ids = []
    for _ in range(5):
        ids.append(new_event_id())
        time.sleep(0.002)
    assert ids == sorted(ids)
    assert len(set(ids)) == 5


# --- Envelope ----------------------------------------------------------------------------


def test_to_record_is_exact_and_json_serialisable() -> None:
    record = make_envelope().to_record()
    assert record == {
        "event_id": "0190f0c2-0000-7000-8000-000000000001",
        "project_id": "p1",
        "name": "Order Completed",
        "category": "web",
        "distinct_id": "u1",
        "timestamp": "2026-11-26T10:03:00.000Z",
        "received_at": "2026-11-26T10:03:05.123Z",
        "properties": {"total": 9.5, "items": [{"sku": "a"}], "user": {"id": 7}},
        "context": {"library": {"name": "analytics.js"}},
        "source": "segment",
        "numeric_properties": {"total": "9.5", "user.id": "7"},
    }
    assert json.loads(json.dumps(record)) == record


def test_datetimes_are_stored_in_utc_truncated_to_milliseconds() -> None:
    plus_two = timezone(timedelta(hours=2))
    envelope = make_envelope(
        timestamp=datetime(2026, 11, 26, 12, 3, 0, 999999, tzinfo=plus_two),
        received_at=datetime(2026, 11, 26, 10, 3, 1, 1500, tzinfo=UTC),
    )
    assert envelope.timestamp == datetime(2026, 11, 26, 10, 3, 0, 999000, tzinfo=UTC)
    assert envelope.timestamp.tzinfo is UTC
    assert envelope.to_record()["timestamp"] == "2026-11-26T10:03:00.999Z"
    assert envelope.to_record()["received_at"] == "2026-11-26T10:03:01.001Z"


def test_from_record_inverts_to_record() -> None:
    envelope = make_envelope(distinct_id=None, category="other", source="keen")
    record = json.loads(json.dumps(envelope.to_record()))
    assert Envelope.from_record(record) == envelope
    assert Envelope.from_record(record).to_record() == record


def test_from_record_missing_key_raises() -> None:
    record = make_envelope().to_record()
    del record["name"]
    with pytest.raises(KeyError):
        Envelope.from_record(record)


def test_format_timestamp() -> None:
    assert format_timestamp(datetime(2026, 1, 2, 3, 4, 5, 6789, tzinfo=UTC)) == (
        "2026-01-02T03:04:05.006Z"
    )


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_is_accepted(category: str) -> None:
    assert make_envelope(category=category).category == category


def test_envelope_rejects_unknown_category_and_source() -> None:
    with pytest.raises(ValueError, match="category must be one of web, mobile, server, other"):
        make_envelope(category="desktop")
    with pytest.raises(ValueError, match="source must be one of native, segment, keen"):
        make_envelope(source="mixpanel")


def test_envelope_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_envelope(timestamp=datetime(2026, 11, 26, 10, 3))
    with pytest.raises(ValueError, match="timezone-aware"):
        make_envelope(received_at=datetime(2026, 11, 26, 10, 3))


def test_envelope_is_frozen() -> None:
    envelope = make_envelope()
    with pytest.raises(AttributeError):
        envelope.name = "other"  # type: ignore[misc]


# --- errors ------------------------------------------------------------------------------


def test_event_error_as_dict() -> None:
    error = EventError(index=3, field="properties.user.name", message="must be a string")
    assert error.as_dict() == {
        "index": 3,
        "field": "properties.user.name",
        "message": "must be a string",
    }


def test_event_validation_error_carries_errors() -> None:
    errors = [
        EventError(index=None, field="name", message="is required"),
        EventError(index=None, field="timestamp", message="must be a string"),
    ]
    error = EventValidationError(errors)
    assert isinstance(error, ValueError)
    assert error.errors == errors
    assert error.too_large is False
    assert str(error) == "name: is required; timestamp: must be a string"
    assert EventValidationError(errors[:1], too_large=True).too_large is True


# --- limits ------------------------------------------------------------------------------


def test_limits_defaults() -> None:
    limits = Limits()
    assert (
        limits.max_event_bytes,
        limits.max_body_bytes,
        limits.max_batch_events,
        limits.max_property_depth,
        limits.max_property_name_length,
        limits.max_properties,
        limits.max_name_length,
        limits.max_event_id_length,
        limits.max_distinct_id_length,
        limits.max_future_skew_seconds,
        limits.min_timestamp,
    ) == (32768, 512000, 2500, 8, 255, 1000, 255, 128, 255, 3600, datetime(2000, 1, 1, tzinfo=UTC))


def test_limits_from_mapping_overrides_and_keeps_defaults() -> None:
    limits = limits_from_mapping({"max_event_bytes": 100, "min_timestamp": "2010-01-01"})
    assert limits == Limits(max_event_bytes=100, min_timestamp=datetime(2010, 1, 1, tzinfo=UTC))
    assert limits_from_mapping(None) == Limits()


def test_limits_from_mapping_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="EVENT_LIMITS: unknown limit\\(s\\) max_bogus"):
        limits_from_mapping({"max_bogus": 1})


def test_current_limits_reads_settings(settings: Settings) -> None:
    settings.EVENT_LIMITS = {"max_batch_events": 10, "max_property_depth": 3}
    assert current_limits() == Limits(max_batch_events=10, max_property_depth=3)
    settings.EVENT_LIMITS = {}
    assert current_limits() == Limits()


def test_numeric_leaves_are_the_exact_text_of_every_number_by_dotted_path() -> None:
    """Issue 12: numbers travel as their JSON text, so the aggregation job reads the very
    decimal the raw scan reads (old code: Python numbers, which Spark re-printed and
    decimal(38, 9) rounded or dropped); a key holding a dot is that dotted path."""
    from events.envelope import numeric_leaves

    tree = {
        "big": 10**40 + 1,
        "max": 1e308,
        "tiny": 5e-324,
        "digits": 0.1234567890123456,
        "flag": True,
        "a.b": 2,
        "c": {"d": -0.0, "s": "12", "l": [1]},
    }
    assert numeric_leaves(tree) == {
        "big": str(10**40 + 1),
        "max": "1e+308",
        "tiny": "5e-324",
        "digits": "0.1234567890123456",
        "a.b": "2",
        "c.d": "-0.0",
    }
