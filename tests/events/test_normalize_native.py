"""``normalize_native``: the native event, every field rule and every shared limit."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from events.envelope import Envelope, EventValidationError
from events.limits import Limits
from events.normalize import normalize_native
from events.normalize.common import event_size

RECEIVED = datetime(2026, 11, 26, 10, 3, tzinfo=UTC)
LIMITS = Limits()
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
FIELDS = "name, event_id, category, distinct_id, timestamp, properties, context"
TS_MESSAGE = "must be an ISO-8601 timestamp (e.g. 2026-11-26T10:03:00.000Z) or Unix epoch number"


def normalize(raw: object, *, index: int | None = None, limits: Limits = LIMITS) -> Envelope:
    return normalize_native(raw, project_id="p1", received_at=RECEIVED, index=index, limits=limits)


def errors_of(raw: object, *, index: int | None = None, limits: Limits = LIMITS) -> list:
    with pytest.raises(EventValidationError) as caught:
        normalize(raw, index=index, limits=limits)
    return [(e.index, e.field, e.message) for e in caught.value.errors]


def nest(depth: int) -> dict:
    """An object of nesting depth ``depth`` (itself 1), keys ``a``, a leaf at the bottom."""
    return {"leaf": 1} if depth == 1 else {"a": nest(depth - 1)}


# --- happy paths -------------------------------------------------------------------------


def test_minimal_event_gets_defaults() -> None:
    envelope = normalize({"name": "signup"})
    assert UUID7.match(envelope.event_id)
    record = envelope.to_record()
    del record["event_id"]
    assert record == {
        "project_id": "p1",
        "name": "signup",
        "category": "other",
        "distinct_id": None,
        "timestamp": "2026-11-26T10:03:00.000Z",
        "received_at": "2026-11-26T10:03:00.000Z",
        "properties": {},
        "context": {},
        "source": "native",
        "numeric_properties": {},
    }


def test_full_event_is_kept_exactly() -> None:
    raw = {
        "name": "Order Completed",
        "event_id": "order-42",
        "category": "server",
        "distinct_id": "user-7",
        "timestamp": "2026-11-26T09:58:01.250Z",
        "properties": {"total": 19.99, "items": [{"sku": "a", "qty": 2}], "coupon": None},
        "context": {"ip": "10.0.0.1", "library": {"name": "analytics.js"}},
    }
    assert normalize(raw).to_record() == {
        "event_id": "order-42",
        "project_id": "p1",
        "name": "Order Completed",
        "category": "server",
        "distinct_id": "user-7",
        "timestamp": "2026-11-26T09:58:01.250Z",
        "received_at": "2026-11-26T10:03:00.000Z",
        "properties": {"total": 19.99, "items": [{"sku": "a", "qty": 2}], "coupon": None},
        "context": {"ip": "10.0.0.1", "library": {"name": "analytics.js"}},
        "source": "native",
        "numeric_properties": {"total": "19.99"},
    }


def test_null_optional_fields_count_as_absent() -> None:
    raw = {"name": "x", "event_id": None, "category": None, "distinct_id": None}
    raw |= {"timestamp": None, "properties": None, "context": None}
    envelope = normalize(raw)
    assert (envelope.category, envelope.distinct_id, envelope.timestamp) == (
        "other",
        None,
        RECEIVED,
    )
    assert (envelope.properties, envelope.context) == ({}, {})
    assert UUID7.match(envelope.event_id)


def test_received_at_is_normalised_to_utc_milliseconds() -> None:
    received = datetime(2026, 11, 26, 11, 3, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    envelope = normalize_native({"name": "x"}, project_id="p1", received_at=received, limits=LIMITS)
    assert envelope.received_at == datetime(2026, 11, 26, 10, 3, 0, 123000, tzinfo=UTC)
    assert envelope.timestamp == envelope.received_at


def test_naive_received_at_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        normalize_native(
            {"name": "x"}, project_id="p1", received_at=datetime(2026, 1, 1), limits=LIMITS
        )


# --- category ----------------------------------------------------------------------------


def test_explicit_category_wins_over_context() -> None:
    raw = {"name": "x", "category": "mobile", "context": {"library": {"name": "analytics.js"}}}
    assert normalize(raw).category == "mobile"


@pytest.mark.parametrize(
    ("context", "category"),
    [
        ({"library": {"name": "analytics.js"}}, "web"),
        ({"library": {"name": "analytics-ios"}}, "mobile"),
        ({"library": {"name": "analytics-python"}}, "server"),
        ({"device": {"id": "d1"}}, "mobile"),
        ({"userAgent": "Mozilla/5.0"}, "web"),
        ({}, "other"),
    ],
)
def test_category_is_inferred_from_context(context: dict, category: str) -> None:
    assert normalize({"name": "x", "context": context}).category == category


def test_unknown_category_is_rejected() -> None:
    assert errors_of({"name": "x", "category": "desktop"}) == [
        (None, "category", "must be one of web, mobile, server, other")
    ]


# --- fields ------------------------------------------------------------------------------


def test_unknown_top_level_fields_are_named() -> None:
    assert errors_of({"name": "x", "userId": "u", "props": {}}, index=4) == [
        (4, "userId", f"unknown field; expected one of {FIELDS}"),
        (4, "props", f"unknown field; expected one of {FIELDS}"),
    ]


@pytest.mark.parametrize("raw", [[{"name": "x"}], "name", 42, None, True])
def test_non_object_event_is_rejected(raw: object) -> None:
    assert errors_of(raw, index=2) == [(2, "event", "must be a JSON object")]


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ({}, ("name", "is required")),
        ({"name": None}, ("name", "is required")),
        ({"name": ""}, ("name", "must not be empty")),
        ({"name": 5}, ("name", "must be a string")),
        ({"name": "x" * 256}, ("name", "is 256 characters long, exceeding the limit of 255")),
        ({"name": "x", "event_id": 7}, ("event_id", "must be a string")),
        ({"name": "x", "event_id": ""}, ("event_id", "must not be empty")),
        (
            {"name": "x", "event_id": "e" * 129},
            ("event_id", "is 129 characters long, exceeding the limit of 128"),
        ),
        ({"name": "x", "distinct_id": 7}, ("distinct_id", "must be a string")),
        (
            {"name": "x", "distinct_id": "d" * 256},
            ("distinct_id", "is 256 characters long, exceeding the limit of 255"),
        ),
        ({"name": "x", "properties": [1]}, ("properties", "must be a JSON object")),
        ({"name": "x", "context": "web"}, ("context", "must be a JSON object")),
    ],
)
def test_field_errors(raw: dict, error: tuple[str, str]) -> None:
    assert errors_of(raw) == [(None, *error)]


def test_string_fields_at_their_limits_pass() -> None:
    raw = {"name": "n" * 255, "event_id": "e" * 128, "distinct_id": "d" * 255}
    envelope = normalize(raw)
    assert (envelope.name, envelope.event_id, envelope.distinct_id) == (
        "n" * 255,
        "e" * 128,
        "d" * 255,
    )


def test_all_errors_of_an_event_are_reported_together() -> None:
    raw = {
        "name": "",
        "extra": 1,
        "category": "tv",
        "timestamp": "yesterday",
        "properties": {"a": nest(8)},
    }
    assert errors_of(raw, index=0) == [
        (0, "extra", f"unknown field; expected one of {FIELDS}"),
        (0, "name", "must not be empty"),
        (0, "category", "must be one of web, mobile, server, other"),
        (0, "timestamp", TS_MESSAGE),
        (0, "properties" + ".a" * 8, "nesting depth 9 exceeds the limit of 8"),
    ]


# --- timestamps --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-26T09:00:00.123Z", datetime(2026, 11, 26, 9, 0, 0, 123000, tzinfo=UTC)),
        ("2026-11-26T11:00:00+02:00", datetime(2026, 11, 26, 9, 0, tzinfo=UTC)),
        ("2026-11-26T09:00:00", datetime(2026, 11, 26, 9, 0, tzinfo=UTC)),
        ("2026-11-26 09:00:00.5", datetime(2026, 11, 26, 9, 0, 0, 500000, tzinfo=UTC)),
        (1795683600, datetime(2026, 11, 26, 9, 0, tzinfo=UTC)),
        (1795683600.25, datetime(2026, 11, 26, 9, 0, 0, 250000, tzinfo=UTC)),
        (1795683600123, datetime(2026, 11, 26, 9, 0, 0, 123000, tzinfo=UTC)),
    ],
)
def test_timestamp_forms(value: object, expected: datetime) -> None:
    assert normalize({"name": "x", "timestamp": value}).timestamp == expected


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "", True, [1], {}, 1e300])
def test_unparseable_timestamp_names_the_field(value: object) -> None:
    assert errors_of({"name": "x", "timestamp": value}) == [(None, "timestamp", TS_MESSAGE)]


def test_timestamp_exactly_at_the_future_limit_passes() -> None:
    at_limit = RECEIVED + timedelta(seconds=3600)
    assert normalize({"name": "x", "timestamp": at_limit.isoformat()}).timestamp == at_limit


def test_timestamp_beyond_the_future_limit_is_rejected() -> None:
    raw = {"name": "x", "timestamp": "2026-11-26T11:03:01Z"}
    assert errors_of(raw) == [
        (
            None,
            "timestamp",
            "2026-11-26T11:03:01.000Z is 3601 seconds in the future, beyond the limit of 3600"
            " seconds",
        )
    ]


def test_timestamp_before_2000_is_rejected_and_2000_passes() -> None:
    assert normalize({"name": "x", "timestamp": "2000-01-01T00:00:00Z"}).timestamp == datetime(
        2000, 1, 1, tzinfo=UTC
    )
    assert errors_of({"name": "x", "timestamp": "1999-12-31T23:59:59.999Z"}) == [
        (
            None,
            "timestamp",
            "1999-12-31T23:59:59.999Z is before the earliest accepted timestamp"
            " 2000-01-01T00:00:00.000Z",
        )
    ]


def test_timestamp_bounds_follow_the_limits() -> None:
    limits = Limits(max_future_skew_seconds=60, min_timestamp=datetime(2026, 1, 1, tzinfo=UTC))
    assert errors_of({"name": "x", "timestamp": "2026-11-26T10:04:01Z"}, limits=limits) == [
        (
            None,
            "timestamp",
            "2026-11-26T10:04:01.000Z is 61 seconds in the future, beyond the limit of 60 seconds",
        )
    ]
    assert errors_of({"name": "x", "timestamp": "2025-12-31T00:00:00Z"}, limits=limits)[0][2] == (
        "2025-12-31T00:00:00.000Z is before the earliest accepted timestamp"
        " 2026-01-01T00:00:00.000Z"
    )


# --- size --------------------------------------------------------------------------------


def event_of_size(size: int, filler: str = "a") -> dict:
    """A valid native event whose compact UTF-8 JSON is exactly ``size`` bytes."""
    base = {"name": "x", "properties": {"p": ""}}
    room = size - event_size(base)
    assert room % len(filler.encode()) == 0
    return {"name": "x", "properties": {"p": filler * (room // len(filler.encode()))}}


def test_event_exactly_at_the_size_limit_passes() -> None:
    raw = event_of_size(32768)
    assert len(json.dumps(raw, separators=(",", ":")).encode()) == 32768
    assert normalize(raw).properties == raw["properties"]


def test_event_one_byte_over_the_size_limit_is_too_large() -> None:
    with pytest.raises(EventValidationError) as caught:
        normalize(event_of_size(32769), index=1)
    assert caught.value.too_large is True
    assert [e.as_dict() for e in caught.value.errors] == [
        {
            "index": 1,
            "field": "event",
            "message": "event is 32769 bytes, exceeding the limit of 32768 bytes",
        }
    ]


def test_size_counts_utf8_bytes_not_characters() -> None:
    raw = event_of_size(32770, filler="é")
    with pytest.raises(EventValidationError) as caught:
        normalize(raw)
    assert caught.value.errors[0].message == (
        "event is 32770 bytes, exceeding the limit of 32768 bytes"
    )
    assert normalize(event_of_size(32768, filler="é")).name == "x"


def test_too_large_is_false_when_there_are_other_errors() -> None:
    raw = event_of_size(40000)
    raw["bogus"] = True
    with pytest.raises(EventValidationError) as caught:
        normalize(raw)
    assert caught.value.too_large is False
    assert [e.field for e in caught.value.errors] == ["event", "bogus"]


def test_size_limit_follows_the_limits() -> None:
    assert errors_of({"name": "abcdef"}, limits=Limits(max_event_bytes=16)) == [
        (None, "event", "event is 17 bytes, exceeding the limit of 16 bytes")
    ]
    assert normalize({"name": "abcde"}, limits=Limits(max_event_bytes=16)).name == "abcde"


# --- properties and context --------------------------------------------------------------


@pytest.mark.parametrize("field", ["properties", "context"])
def test_nesting_depth_at_the_limit_passes(field: str) -> None:
    assert getattr(normalize({"name": "x", field: nest(8)}), field) == nest(8)


@pytest.mark.parametrize("field", ["properties", "context"])
def test_nesting_depth_over_the_limit_names_the_path(field: str) -> None:
    assert errors_of({"name": "x", field: nest(9)}) == [
        (None, field + ".a" * 8, "nesting depth 9 exceeds the limit of 8")
    ]


def test_lists_count_as_nesting_levels() -> None:
    deep_list: object = 1
    for _ in range(7):
        deep_list = [deep_list]
    assert normalize({"name": "x", "properties": {"l": deep_list}}).properties["l"] == deep_list
    assert errors_of({"name": "x", "properties": {"l": [deep_list]}}) == [
        (None, "properties.l" + "[0]" * 7, "nesting depth 9 exceeds the limit of 8")
    ]


def test_nesting_depth_follows_the_limits() -> None:
    assert errors_of({"name": "x", "properties": nest(3)}, limits=Limits(max_property_depth=2)) == [
        (None, "properties.a.a", "nesting depth 3 exceeds the limit of 2")
    ]


def test_property_name_length_at_the_limit_passes() -> None:
    properties = {"k" * 255: 1, "nested": {"n" * 255: 2}}
    assert normalize({"name": "x", "properties": properties}).properties == properties


def test_property_name_over_the_limit_names_the_path() -> None:
    raw = {"name": "x", "properties": {"user": {"k" * 256: 1}}, "context": {"c" * 300: 1}}
    assert errors_of(raw) == [
        (
            None,
            "properties.user." + "k" * 256,
            "property name is 256 characters long, exceeding the limit of 255",
        ),
        (
            None,
            "context." + "c" * 300,
            "property name is 300 characters long, exceeding the limit of 255",
        ),
    ]


def test_empty_property_name_is_rejected() -> None:
    assert errors_of({"name": "x", "properties": {"user": {"": 1}}}) == [
        (None, "properties.user", "property names must not be empty")
    ]


def test_property_count_at_the_limit_passes() -> None:
    properties: dict[str, object] = {f"k{i}": i for i in range(999)} | {"nested": {}}
    assert len(normalize({"name": "x", "properties": properties}).properties) == 1000


def test_property_count_includes_nested_keys() -> None:
    properties = {f"k{i}": i for i in range(500)} | {"nested": {f"n{i}": i for i in range(500)}}
    assert errors_of({"name": "x", "properties": properties}) == [
        (None, "properties", "has 1001 properties, exceeding the limit of 1000")
    ]


def test_property_count_is_per_object_and_follows_the_limits() -> None:
    limits = Limits(max_properties=2)
    raw = {"name": "x", "properties": {"a": 1, "b": 2}, "context": {"a": {"b": {"c": 1}}}}
    assert errors_of(raw, limits=limits) == [
        (None, "context", "has 3 properties, exceeding the limit of 2")
    ]


def test_non_finite_numbers_are_rejected() -> None:
    raw = {"name": "x", "properties": {"a": float("nan"), "b": [float("inf")]}}
    assert errors_of(raw) == [
        (None, "properties.a", "must be a finite number"),
        (None, "properties.b[0]", "must be a finite number"),
    ]


def test_a_dotted_key_and_the_same_nested_path_are_refused_naming_the_path() -> None:
    """Issue 12: {"a.b": 1} and {"a": {"b": 2}} are both the path a.b (rollups and
    filters); one event giving that path two values is refused (old code: accepted)."""
    message = (
        "is given twice, as a key holding a dot and as nested properties; use one or the other"
    )
    assert errors_of({"name": "x", "properties": {"a": {"b": 2}, "a.b": 1}}) == [
        (None, "properties.a.b", message)
    ]
    # Either alone is fine, and so are paths that only share a prefix.
    assert normalize({"name": "x", "properties": {"a.b": 1, "a": {"c": 2}}}).properties == {
        "a.b": 1,
        "a": {"c": 2},
    }
