"""``normalize_keen``: collections, the reserved ``keen`` object, distinct ids, limits."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from keen.client import Event

from events.envelope import Envelope, EventValidationError
from events.limits import Limits
from events.normalize import normalize_keen

RECEIVED = datetime(2026, 11, 26, 10, 3, tzinfo=UTC)
LIMITS = Limits()
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TS_MESSAGE = "must be an ISO-8601 timestamp (e.g. 2026-11-26T10:03:00.000Z) or Unix epoch number"


def normalize(
    raw: object,
    collection: str = "purchases",
    *,
    index: int | None = None,
    limits: Limits = LIMITS,
    sdk: str | None = None,
) -> Envelope:
    return normalize_keen(
        raw,
        collection=collection,
        project_id="p1",
        received_at=RECEIVED,
        index=index,
        limits=limits,
        sdk=sdk,
    )


def errors_of(raw: object, collection: str = "purchases", **kwargs: Any) -> list:
    with pytest.raises(EventValidationError) as caught:
        normalize(raw, collection, **kwargs)
    return [(e.index, e.field, e.message) for e in caught.value.errors]


def nest(depth: int) -> dict:
    return {"leaf": 1} if depth == 1 else {"a": nest(depth - 1)}


# --- happy paths -------------------------------------------------------------------------


def test_plain_event() -> None:
    envelope = normalize({"item": "golden widget", "price": 9.99, "user": {"name": "Ann"}})
    assert UUID7.match(envelope.event_id)
    record = envelope.to_record()
    del record["event_id"]
    assert record == {
        "project_id": "p1",
        "name": "purchases",
        "category": "other",
        "distinct_id": None,
        "timestamp": "2026-11-26T10:03:00.000Z",
        "received_at": "2026-11-26T10:03:00.000Z",
        "properties": {"item": "golden widget", "price": 9.99, "user": {"name": "Ann"}},
        "context": {},
        "source": "keen",
        "numeric_properties": {"price": "9.99"},
    }


def test_keen_object_gives_timestamp_and_id_and_is_removed() -> None:
    raw = {
        "item": "widget",
        "keen": {
            "timestamp": "2026-10-01T08:30:00.125Z",
            "id": "5f1c-keen-id",
            "created_at": "2026-10-01T08:31:00Z",
            "addons": [{"name": "keen:ip_to_geo"}],
        },
    }
    envelope = normalize(raw)
    assert envelope.to_record() == {
        "event_id": "5f1c-keen-id",
        "project_id": "p1",
        "name": "purchases",
        "category": "other",
        "distinct_id": None,
        "timestamp": "2026-10-01T08:30:00.125Z",
        "received_at": "2026-11-26T10:03:00.000Z",
        "properties": {"item": "widget"},
        "context": {},
        "source": "keen",
        "numeric_properties": {},
    }
    assert "keen" in raw  # the input is not mutated


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-10-01T08:30:00Z", datetime(2026, 10, 1, 8, 30, tzinfo=UTC)),
        ("2026-10-01T10:30:00+02:00", datetime(2026, 10, 1, 8, 30, tzinfo=UTC)),
        ("2026-10-01T08:30:00.123456", datetime(2026, 10, 1, 8, 30, 0, 123000, tzinfo=UTC)),
    ],
)
def test_keen_timestamp_backfill_forms(value: str, expected: datetime) -> None:
    assert normalize({"keen": {"timestamp": value}}).timestamp == expected


def test_null_or_empty_keen_object_means_defaults() -> None:
    for keen in (None, {}, {"timestamp": None, "id": None}):
        envelope = normalize({"a": 1, "keen": keen})
        assert (envelope.timestamp, envelope.properties) == (RECEIVED, {"a": 1})
        assert UUID7.match(envelope.event_id)


def test_empty_event_is_valid() -> None:
    assert normalize({}).properties == {}


@pytest.mark.parametrize(
    ("sdk", "category"), [("python-0.7.0", "server"), ("javascript-5.0.0", "web"), (None, "other")]
)
def test_category_comes_from_the_keen_sdk_header(sdk: str | None, category: str) -> None:
    assert normalize({"a": 1}, sdk=sdk).category == category


# --- distinct id -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "distinct_id"),
    [
        ({"user": {"id": "u1"}, "user_id": "u2", "userId": "u3"}, "u1"),
        ({"user": {"id": 17}}, "17"),
        ({"user": {"name": "x"}, "user_id": "u2", "userId": "u3"}, "u2"),
        ({"user": "u0", "userId": "u3"}, "u3"),
        ({"user": {"id": ""}, "user_id": True, "userId": "u3"}, "u3"),
        ({"user": {"id": "x" * 256}, "user_id": "u2"}, "u2"),
        ({"user": {"id": "x" * 255}}, "x" * 255),
        ({"user": {"id": {"nested": 1}}}, None),
        ({"user_id": 1.5}, None),
        ({}, None),
    ],
)
def test_distinct_id(raw: dict, distinct_id: str | None) -> None:
    envelope = normalize(raw)
    assert envelope.distinct_id == distinct_id
    assert envelope.properties == raw  # the ids stay in the properties


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [[{"a": 1}], "event", 3, None])
def test_non_object_event_is_rejected(raw: object) -> None:
    assert errors_of(raw, index=0) == [(0, "event", "must be a JSON object")]


@pytest.mark.parametrize(
    ("collection", "message"),
    [
        ("", "must not be empty"),
        ("c" * 65, "is 65 characters long, exceeding the limit of 64"),
        ("$purchases", "must not contain '.' or start with '$'"),
        ("shop.purchases", "must not contain '.' or start with '$'"),
        ("achats-réussis", "must contain only ASCII characters"),
    ],
)
def test_collection_rules(collection: str, message: str) -> None:
    assert errors_of({"a": 1}, collection, index=2) == [(2, "collection", message)]


@pytest.mark.parametrize("collection", ["c" * 64, "page views", "a$b", "Sign-Ups_2026"])
def test_valid_collections(collection: str) -> None:
    assert normalize({"a": 1}, collection).name == collection


@pytest.mark.parametrize(
    ("keen", "error"),
    [
        ([], ("keen", "must be a JSON object")),
        ("2026-01-01", ("keen", "must be a JSON object")),
        ({"id": 5}, ("keen.id", "must be a string")),
        ({"id": ""}, ("keen.id", "must not be empty")),
        ({"id": "k" * 129}, ("keen.id", "is 129 characters long, exceeding the limit of 128")),
        ({"timestamp": "last tuesday"}, ("keen.timestamp", TS_MESSAGE)),
        ({"timestamp": {}}, ("keen.timestamp", TS_MESSAGE)),
        (
            {"timestamp": "2026-11-26T11:03:00.001Z"},
            (
                "keen.timestamp",
                "2026-11-26T11:03:00.001Z is 3601 seconds in the future, beyond the limit of"
                " 3600 seconds",
            ),
        ),
        (
            {"timestamp": "1999-12-31T23:59:59Z"},
            (
                "keen.timestamp",
                "1999-12-31T23:59:59.000Z is before the earliest accepted timestamp"
                " 2000-01-01T00:00:00.000Z",
            ),
        ),
    ],
)
def test_keen_object_errors(keen: object, error: tuple) -> None:
    assert errors_of({"a": 1, "keen": keen}) == [(None, *error)]


def test_keen_id_and_timestamp_at_their_limits_pass() -> None:
    envelope = normalize({"keen": {"id": "k" * 128, "timestamp": "2026-11-26T11:03:00Z"}})
    assert (envelope.event_id, envelope.timestamp) == (
        "k" * 128,
        datetime(2026, 11, 26, 11, 3, tzinfo=UTC),
    )


def test_all_errors_are_reported_together() -> None:
    raw = {"keen": {"id": 1, "timestamp": "?"}, "a": nest(8)}
    assert errors_of(raw, "bad.name", index=4) == [
        (4, "collection", "must not contain '.' or start with '$'"),
        (4, "keen.id", "must be a string"),
        (4, "keen.timestamp", TS_MESSAGE),
        (4, "a" + ".a" * 7, "nesting depth 9 exceeds the limit of 8"),
    ]


# --- limits ------------------------------------------------------------------------------


def test_event_itself_is_depth_one() -> None:
    assert normalize(nest(8)).properties == nest(8)
    assert errors_of(nest(9)) == [(None, "a" + ".a" * 7, "nesting depth 9 exceeds the limit of 8")]


def test_keen_object_is_not_part_of_the_property_tree() -> None:
    raw = {**nest(8), "keen": {"timestamp": "2026-11-26T09:00:00Z"}}
    assert normalize(raw).properties == nest(8)


def test_property_names_and_count_name_the_keen_paths() -> None:
    raw = {"user": {"n" * 256: 1, "": 2}}
    assert errors_of(raw) == [
        (
            None,
            "user." + "n" * 256,
            "property name is 256 characters long, exceeding the limit of 255",
        ),
        (None, "user", "property names must not be empty"),
    ]
    assert normalize({"n" * 255: 1}).properties == {"n" * 255: 1}
    assert errors_of({"a": 1, "b": {"c": 2}}, limits=Limits(max_properties=2)) == [
        (None, "event", "has 3 properties, exceeding the limit of 2")
    ]
    assert normalize({"a": 1, "b": 2}, limits=Limits(max_properties=2)).properties == {
        "a": 1,
        "b": 2,
    }


def test_size_limit_counts_the_whole_event_including_keen() -> None:
    raw: dict[str, Any] = {"keen": {"id": "k"}, "p": ""}
    base = len(json.dumps(raw, separators=(",", ":")).encode())
    raw["p"] = "x" * (32768 - base)
    assert normalize(raw).properties == {"p": raw["p"]}
    raw["p"] += "x"
    with pytest.raises(EventValidationError) as caught:
        normalize(raw)
    assert caught.value.too_large is True
    assert [e.as_dict() for e in caught.value.errors] == [
        {
            "index": None,
            "field": "event",
            "message": "event is 32769 bytes, exceeding the limit of 32768 bytes",
        }
    ]


# --- the real SDK's payload --------------------------------------------------------------


def test_event_serialised_by_the_keen_python_client() -> None:
    backfill = datetime(2026, 11, 20, 12, 0, 0, 250000, tzinfo=UTC)
    body = {"user": {"id": "u9"}, "amount": 3, "keen": {"id": "evt-1"}}
    raw = json.loads(Event("proj", "purchases", body, timestamp=backfill).to_json())
    envelope = normalize(raw, sdk="python-0.7.0")
    assert envelope.to_record() == {
        "event_id": "evt-1",
        "project_id": "p1",
        "name": "purchases",
        "category": "server",
        "distinct_id": "u9",
        "timestamp": "2026-11-20T12:00:00.250Z",
        "received_at": "2026-11-26T10:03:00.000Z",
        "properties": {"user": {"id": "u9"}, "amount": 3},
        "context": {},
        "source": "keen",
        "numeric_properties": {"amount": "3"},
    }
