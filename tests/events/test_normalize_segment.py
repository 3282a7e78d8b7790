"""``normalize_segment``: Segment's six call types, ids, clock-skew correction, categories."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from segment.analytics import Client

from events.envelope import Envelope, EventValidationError
from events.limits import Limits
from events.normalize import (
    SEGMENT_CALL_TYPES,
    infer_category,
    keen_sdk_category,
    normalize_segment,
)

RECEIVED = datetime(2026, 11, 26, 10, 3, tzinfo=UTC)
LIMITS = Limits()
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TYPES = "track, identify, page, screen, group, alias"
TS_MESSAGE = "must be an ISO-8601 timestamp (e.g. 2026-11-26T10:03:00.000Z) or Unix epoch number"


def normalize(
    raw: object,
    call_type: str | None = None,
    *,
    index: int | None = None,
    limits: Limits = LIMITS,
    batch: dict | None = None,
) -> Envelope:
    return normalize_segment(
        raw,
        call_type=call_type,
        project_id="p1",
        received_at=RECEIVED,
        index=index,
        limits=limits,
        batch=batch,
    )


def errors_of(raw: object, call_type: str | None = None, **kwargs: Any) -> list:
    with pytest.raises(EventValidationError) as caught:
        normalize(raw, call_type, **kwargs)
    return [(e.index, e.field, e.message) for e in caught.value.errors]


def summary(envelope: Envelope) -> tuple:
    return (envelope.name, envelope.distinct_id, envelope.properties, envelope.context)


# --- the six call types ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"type": "track", "event": "Order Completed", "userId": "u1", "properties": {"t": 9}},
            ("Order Completed", "u1", {"t": 9}, {"userId": "u1"}),
        ),
        (
            {"type": "identify", "userId": "u1", "traits": {"email": "a@b.c"}},
            ("identify", "u1", {"email": "a@b.c"}, {"userId": "u1"}),
        ),
        (
            {
                "type": "page",
                "anonymousId": "a1",
                "name": "Home",
                "category": "Docs",
                "properties": {"path": "/", "name": "ignored"},
            },
            (
                "page",
                "a1",
                {"path": "/", "name": "Home", "category": "Docs"},
                {"anonymousId": "a1"},
            ),
        ),
        (
            {"type": "screen", "userId": "u1", "name": "Settings", "properties": {"tab": 2}},
            ("screen", "u1", {"tab": 2, "name": "Settings"}, {"userId": "u1"}),
        ),
        (
            {"type": "group", "userId": "u1", "groupId": "g1", "traits": {"plan": "pro"}},
            ("group", "u1", {"plan": "pro", "groupId": "g1"}, {"userId": "u1"}),
        ),
        (
            {"type": "alias", "userId": "u1", "previousId": "a1"},
            ("alias", "u1", {"previousId": "a1"}, {"userId": "u1"}),
        ),
        (
            {"type": "identify", "anonymousId": "a1"},
            ("identify", "a1", {}, {"anonymousId": "a1"}),
        ),
    ],
)
def test_each_call_type_maps_to_the_envelope(raw: dict, expected: tuple) -> None:
    envelope = normalize(raw, index=0)
    assert summary(envelope) == expected
    assert (envelope.source, envelope.project_id, envelope.timestamp) == ("segment", "p1", RECEIVED)
    assert UUID7.match(envelope.event_id)


@pytest.mark.parametrize("call_type", SEGMENT_CALL_TYPES)
def test_endpoint_call_type_overrides_the_body_type(call_type: str) -> None:
    raw = {
        "type": "bogus",
        "event": "E",
        "userId": "u1",
        "groupId": "g1",
        "previousId": "p0",
    }
    expected_name = "E" if call_type == "track" else call_type
    assert normalize(raw, call_type).name == expected_name


def test_unknown_call_type_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="call_type must be one of"):
        normalize({"userId": "u"}, "purchase")


def test_batch_items_need_a_type() -> None:
    assert errors_of({"userId": "u1"}, index=3) == [(3, "type", "is required in a batch item")]
    assert errors_of({"type": "purchase", "userId": "u1"}, index=3) == [
        (3, "type", f"must be one of {TYPES}")
    ]


# --- required fields ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call_type", "raw", "errors"),
    [
        ("track", {"event": "E"}, [("userId", "userId or anonymousId is required")]),
        (
            "identify",
            {"userId": "", "anonymousId": None},
            [("userId", "userId or anonymousId is required")],
        ),
        ("page", {}, [("userId", "userId or anonymousId is required")]),
        ("screen", {"traits": {}}, [("userId", "userId or anonymousId is required")]),
        ("track", {"userId": "u"}, [("event", "is required for track")]),
        ("track", {"userId": "u", "event": ""}, [("event", "is required for track")]),
        ("track", {"userId": "u", "event": 5}, [("event", "must be a string")]),
        (
            "track",
            {"userId": "u", "event": "e" * 256},
            [("event", "is 256 characters long, exceeding the limit of 255")],
        ),
        ("group", {"userId": "u"}, [("groupId", "is required for group")]),
        ("group", {"anonymousId": "a", "groupId": ""}, [("groupId", "is required for group")]),
        ("alias", {"previousId": "a"}, [("userId", "is required for alias")]),
        ("alias", {"anonymousId": "a", "previousId": "p"}, [("userId", "is required for alias")]),
        ("alias", {"userId": "u"}, [("previousId", "is required for alias")]),
        (
            "alias",
            {},
            [("userId", "is required for alias"), ("previousId", "is required for alias")],
        ),
        (
            "track",
            {},
            [("userId", "userId or anonymousId is required"), ("event", "is required for track")],
        ),
    ],
)
def test_required_fields_per_type(call_type: str, raw: dict, errors: list) -> None:
    assert errors_of(raw, call_type, index=1) == [(1, *error) for error in errors]


def test_event_name_at_the_limit_passes() -> None:
    assert normalize({"userId": "u", "event": "e" * 255}, "track").name == "e" * 255


@pytest.mark.parametrize("raw", [[], "track", 1, None])
def test_non_object_message_is_rejected(raw: object) -> None:
    assert errors_of(raw, "track", index=0) == [(0, "event", "must be a JSON object")]


# --- ids ---------------------------------------------------------------------------------


def test_user_id_wins_over_anonymous_id_and_both_stay_in_context() -> None:
    envelope = normalize({"userId": "u1", "anonymousId": "a1"}, "identify")
    assert envelope.distinct_id == "u1"
    assert envelope.context == {"userId": "u1", "anonymousId": "a1"}


def test_integer_ids_are_stringified() -> None:
    envelope = normalize({"userId": 42, "groupId": 7}, "group")
    assert (envelope.distinct_id, envelope.properties, envelope.context) == (
        "42",
        {"groupId": "7"},
        {"userId": "42"},
    )


def test_empty_user_id_falls_back_to_anonymous_id() -> None:
    envelope = normalize({"userId": "", "anonymousId": "a1"}, "identify")
    assert (envelope.distinct_id, envelope.context) == ("a1", {"anonymousId": "a1"})


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ({"userId": True}, ("userId", "must be a string")),
        ({"userId": "u", "anonymousId": {"id": 1}}, ("anonymousId", "must be a string")),
        ({"userId": "u" * 256}, ("userId", "is 256 characters long, exceeding the limit of 255")),
        ({"userId": "u", "messageId": 5}, ("messageId", "must be a string")),
        (
            {"userId": "u", "messageId": "m" * 129},
            ("messageId", "is 129 characters long, exceeding the limit of 128"),
        ),
        ({"userId": "u", "traits": ["a"]}, ("traits", "must be a JSON object")),
        ({"userId": "u", "context": 3}, ("context", "must be a JSON object")),
    ],
)
def test_id_and_object_errors(raw: dict, error: tuple) -> None:
    assert errors_of(raw, "identify") == [(None, *error)]


def test_page_name_must_be_a_string() -> None:
    assert errors_of({"userId": "u", "name": 3}, "page") == [(None, "name", "must be a string")]


def test_message_id_is_the_event_id() -> None:
    envelope = normalize({"userId": "u", "event": "E", "messageId": "m" * 128}, "track")
    assert envelope.event_id == "m" * 128


# --- unknown fields and context ----------------------------------------------------------


def test_unknown_segment_fields_are_ignored() -> None:
    raw = {
        "userId": "u1",
        "event": "E",
        "writeKey": "wk_secret",
        "integrations": {"All": False},
        "version": 2,
        "_metadata": {"bundled": []},
        "channel": "server",
        "sentAt": "2026-11-26T10:03:00Z",
        "somethingNew": 1,
    }
    envelope = normalize(raw, "track")
    assert summary(envelope) == ("E", "u1", {}, {"userId": "u1"})


def test_batch_context_is_overlaid_by_the_message_context() -> None:
    batch = {"context": {"ip": "1.2.3.4", "library": {"name": "analytics.js"}}}
    raw = {"type": "track", "event": "E", "anonymousId": "a", "context": {"ip": "5.6.7.8"}}
    envelope = normalize(raw, batch=batch)
    assert envelope.context == {
        "ip": "5.6.7.8",
        "library": {"name": "analytics.js"},
        "anonymousId": "a",
    }
    assert envelope.category == "web"


def test_bad_batch_context_is_reported() -> None:
    raw = {"type": "identify", "userId": "u"}
    assert errors_of(raw, batch={"context": "x"}, index=0) == [
        (0, "batch.context", "must be a JSON object")
    ]


# --- timestamps and clock skew -----------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "batch", "expected"),
    [
        # received 10:03:00; sentAt - timestamp = 10 s, so the event happened at 10:02:50.
        (
            {"timestamp": "2026-11-26T09:00:00Z", "sentAt": "2026-11-26T09:00:10Z"},
            None,
            datetime(2026, 11, 26, 10, 2, 50, tzinfo=UTC),
        ),
        # a client clock an hour fast, milliseconds kept through the correction
        (
            {"timestamp": "2026-11-26T11:02:58.250Z", "sentAt": "2026-11-26T11:03:01.000Z"},
            None,
            datetime(2026, 11, 26, 10, 2, 57, 250000, tzinfo=UTC),
        ),
        # a client clock years behind is corrected into range
        (
            {"timestamp": "1990-01-01T00:00:00Z", "sentAt": "1990-01-01T00:01:00Z"},
            None,
            datetime(2026, 11, 26, 10, 2, tzinfo=UTC),
        ),
        (
            {"originalTimestamp": "2026-11-26T09:00:00Z", "sentAt": "2026-11-26T09:00:30Z"},
            None,
            datetime(2026, 11, 26, 10, 2, 30, tzinfo=UTC),
        ),
        (
            {
                "timestamp": "2026-11-26T09:00:00Z",
                "originalTimestamp": "2026-11-26T09:00:05Z",
                "sentAt": "2026-11-26T09:00:10Z",
            },
            None,
            datetime(2026, 11, 26, 10, 2, 50, tzinfo=UTC),
        ),
        # sentAt of the enclosing /v1/batch body (what analytics-python sends)
        (
            {"timestamp": "2026-11-26T09:00:00Z"},
            {"sentAt": "2026-11-26T09:00:20Z"},
            datetime(2026, 11, 26, 10, 2, 40, tzinfo=UTC),
        ),
        # the message's own sentAt wins over the batch's
        (
            {"timestamp": "2026-11-26T09:00:00Z", "sentAt": "2026-11-26T09:00:01Z"},
            {"sentAt": "2026-11-26T09:00:20Z"},
            datetime(2026, 11, 26, 10, 2, 59, tzinfo=UTC),
        ),
        # no sentAt: the timestamp is used as is
        ({"timestamp": "2026-11-26T09:00:00Z"}, None, datetime(2026, 11, 26, 9, tzinfo=UTC)),
        (
            {"originalTimestamp": "2026-11-26T09:00:00+01:00"},
            None,
            datetime(2026, 11, 26, 8, tzinfo=UTC),
        ),
        # no client time: received_at
        ({"sentAt": "2026-11-26T09:00:00Z"}, None, RECEIVED),
        ({}, None, RECEIVED),
    ],
)
def test_timestamp_and_clock_skew_correction(
    fields: dict, batch: dict | None, expected: object
) -> None:
    raw = {"type": "track", "event": "E", "userId": "u", **fields}
    assert normalize(raw, batch=batch).timestamp == expected


@pytest.mark.parametrize(
    ("fields", "batch", "error"),
    [
        ({"timestamp": "soon"}, None, ("timestamp", TS_MESSAGE)),
        ({"originalTimestamp": []}, None, ("originalTimestamp", TS_MESSAGE)),
        ({"timestamp": "2026-11-26T09:00:00Z", "sentAt": "x"}, None, ("sentAt", TS_MESSAGE)),
        ({"timestamp": "2026-11-26T09:00:00Z"}, {"sentAt": "x"}, ("batch.sentAt", TS_MESSAGE)),
        (
            {"timestamp": "2026-11-26T12:00:00Z"},
            None,
            (
                "timestamp",
                "2026-11-26T12:00:00.000Z is 7020 seconds in the future, beyond the limit of"
                " 3600 seconds",
            ),
        ),
        (
            # corrected: received_at + 2 h, as the event claims to follow its own sending
            {"timestamp": "2026-11-26T11:00:00Z", "sentAt": "2026-11-26T09:00:00Z"},
            None,
            (
                "timestamp",
                "2026-11-26T12:03:00.000Z is 7200 seconds in the future, beyond the limit of"
                " 3600 seconds",
            ),
        ),
        (
            {"originalTimestamp": "1999-06-01T00:00:00Z"},
            None,
            (
                "originalTimestamp",
                "1999-06-01T00:00:00.000Z is before the earliest accepted timestamp"
                " 2000-01-01T00:00:00.000Z",
            ),
        ),
    ],
)
def test_timestamp_errors(fields: dict, batch: dict | None, error: tuple) -> None:
    raw = {"type": "track", "event": "E", "userId": "u", **fields}
    assert errors_of(raw, batch=batch, index=5) == [(5, *error)]


# --- limits ------------------------------------------------------------------------------


def test_size_limit_applies_to_each_message() -> None:
    raw = {"type": "track", "event": "E", "userId": "u", "properties": {"p": "x" * 33000}}
    with pytest.raises(EventValidationError) as caught:
        normalize(raw, index=9)
    assert caught.value.too_large is True
    size = len(json.dumps(raw, separators=(",", ":")).encode())
    assert [e.as_dict() for e in caught.value.errors] == [
        {
            "index": 9,
            "field": "event",
            "message": f"event is {size} bytes, exceeding the limit of 32768 bytes",
        }
    ]


def test_property_limits_name_the_segment_field() -> None:
    deep: dict = {"leaf": 1}
    for _ in range(8):
        deep = {"a": deep}
    limits = Limits(max_properties=3)
    raw = {"userId": "u", "groupId": "g", "traits": {"a": 1, "b": 2, "c": 3, "d": 4}}
    raw["context"] = {"x" * 256: deep}
    assert errors_of(raw, "group", limits=limits) == [
        (None, "traits", "has 4 properties, exceeding the limit of 3"),
        (
            None,
            "context." + "x" * 256,
            "property name is 256 characters long, exceeding the limit of 255",
        ),
        (None, "context." + "x" * 256 + ".a" * 7, "nesting depth 9 exceeds the limit of 8"),
        # keys below the depth limit are not walked, so not counted
        (None, "context", "has 8 properties, exceeding the limit of 3"),
    ]


# --- categories --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("context", "category"),
    [
        ({"library": {"name": "analytics.js", "version": "2.1"}}, "web"),
        ({"library": {"name": "analytics-next"}}, "web"),
        ({"library": {"name": "analytics-ios"}}, "mobile"),
        ({"library": {"name": "analytics-android"}}, "mobile"),
        ({"library": {"name": "analytics-react-native"}}, "mobile"),
        ({"library": {"name": "analytics-flutter"}}, "mobile"),
        ({"library": {"name": "analytics-swift"}}, "mobile"),
        ({"library": {"name": "analytics-kotlin"}}, "mobile"),
        ({"library": {"name": "analytics-python"}}, "server"),
        ({"library": {"name": "analytics-node"}}, "server"),
        ({"library": {"name": "analytics-ruby"}}, "server"),
        ({"library": {"name": "analytics-go"}}, "server"),
        ({"library": {"name": "analytics-java"}}, "server"),
        ({"library": {"name": "analytics-php"}}, "server"),
        ({"library": {"name": "analytics-dotnet"}}, "server"),
        ({"library": {"name": "Analytics.NET"}}, "server"),
        ({"library": {"name": "keen-python"}}, "server"),
        # a known library wins over device hints
        ({"library": {"name": "analytics-python"}, "device": {"id": "d"}}, "server"),
        ({"library": {"name": "my-sdk"}, "device": {"id": "d"}}, "mobile"),
        ({"app": {"name": "Shop", "version": "3"}}, "mobile"),
        ({"os": {"name": "iOS", "version": "18"}}, "mobile"),
        ({"os": {"name": "Android"}}, "mobile"),
        ({"os": {"name": "Windows"}}, "other"),
        ({"page": {"path": "/"}}, "web"),
        ({"userAgent": "Mozilla/5.0"}, "web"),
        ({"userAgent": "Mozilla/5.0", "device": {"type": "ios"}}, "mobile"),
        ({"device": {}}, "other"),
        ({"library": "analytics.js"}, "web"),
        ({"ip": "1.2.3.4"}, "other"),
        ({}, "other"),
    ],
)
def test_infer_category(context: dict, category: str) -> None:
    assert infer_category(context) == category
    assert normalize({"userId": "u", "context": context}, "identify").category == category


@pytest.mark.parametrize(
    ("sdk", "category"),
    [
        ("python-0.7.0", "server"),
        ("java-5.0", "server"),
        ("javascript-4.0", "web"),
        ("android-3.1", "mobile"),
        ("cobol-1", "other"),
        ("", "other"),
        (None, "other"),
    ],
)
def test_keen_sdk_category(sdk: str | None, category: str) -> None:
    assert keen_sdk_category(sdk) == category


# --- the real SDK's messages -------------------------------------------------------------


def test_messages_built_by_segment_analytics_python() -> None:
    client = Client("wk_test", send=False, sync_mode=True)
    sent = datetime(2026, 11, 26, 9, 0, 10, tzinfo=UTC)
    _, track = client.track(
        user_id="u1",
        event="Signed Up",
        properties={"plan": "pro"},
        timestamp=datetime(2026, 11, 26, 9, 0, 0, 500000, tzinfo=UTC),
    )
    _, identify = client.identify(
        anonymous_id="a1",
        traits={"email": "a@b.c"},
        timestamp=datetime(2026, 11, 26, 9, tzinfo=UTC),
    )
    body = json.loads(json.dumps({"batch": [track, identify], "sentAt": sent.isoformat()}))

    envelopes = [normalize(item, index=i, batch=body) for i, item in enumerate(body["batch"])]

    assert [e.event_id for e in envelopes] == [track["messageId"], identify["messageId"]]
    assert [summary(e) for e in envelopes] == [
        (
            "Signed Up",
            "u1",
            {"plan": "pro"},
            {"library": track["context"]["library"], "userId": "u1"},
        ),
        (
            "identify",
            "a1",
            {"email": "a@b.c"},
            {"library": identify["context"]["library"], "anonymousId": "a1"},
        ),
    ]
    assert track["context"]["library"]["name"] == "analytics-python"
    assert [e.category for e in envelopes] == ["server", "server"]
    assert [e.timestamp for e in envelopes] == [
        datetime(2026, 11, 26, 10, 2, 50, 500000, tzinfo=UTC),
        datetime(2026, 11, 26, 10, 2, 50, tzinfo=UTC),
    ]
