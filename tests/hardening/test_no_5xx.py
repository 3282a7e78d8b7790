"""Inputs that used to answer Django's HTML 500 (issue 12, section 3) now get a 4xx that
names the field (or a 2xx), on every door; unrouted paths and server errors on the
Segment, Keen and native APIs answer in those APIs' JSON error shapes."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "cassandra"]),
]

NOW = dt.datetime.now(dt.UTC)
RECENT = {
    "start": (NOW - dt.timedelta(days=2)).replace(minute=0, second=0, microsecond=0).isoformat(),
    "end": (NOW - dt.timedelta(days=1)).replace(minute=0, second=0, microsecond=0).isoformat(),
}
LONG_NAME = "e" * 65536  # 64 KB: beyond Cassandra's partition-key bound


def _keen_query(client: Client, keys: dict, analysis: str, params: dict, *, post: bool):
    url = f"/3.0/projects/{keys['project_id']}/queries/{analysis}"
    if post:
        return client.post(
            url, json.dumps(params), "application/json", HTTP_AUTHORIZATION=keys["read_key"]
        )
    encoded = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    return client.get(url, encoded, HTTP_AUTHORIZATION=keys["read_key"])


def _native_query(client: Client, keys: dict, analysis: str, body: bytes | str):
    return client.post(
        f"/api/v1/insights/{analysis}",
        body,
        "application/json",
        HTTP_AUTHORIZATION=f"Bearer {keys['read_key']}",
    )


# name: (analysis, parameters, the field the 400 must name)
QUERY_CASES: dict[str, tuple[str, dict[str, Any], str]] = {
    "zone folder America": ("count", {"timezone": "America"}, "timezone"),
    "zone folder Europe": ("count", {"timezone": "Europe"}, "timezone"),
    "this_2027_years": ("count", {"timeframe": "this_2027_years"}, "timeframe"),
    "previous_999999_months": ("count", {"timeframe": "previous_999999_months"}, "timeframe"),
    "this_999999_days": ("count", {"timeframe": "this_999999_days"}, "timeframe"),
    "previous_999999_weeks in a zone": (
        "count",
        {"timeframe": "previous_999999_weeks", "timezone": "US/Pacific"},
        "timeframe",
    ),
    "start at year 1, +14:00": (
        "count",
        {"timeframe": {"start": "0001-01-01T00:00:00+14:00", "end": RECENT["end"]}},
        "timeframe.start",
    ),
    "end at year 9999, -10:00": (
        "count",
        {"timeframe": {"start": RECENT["start"], "end": "9999-12-31T23:00:00-10:00"}},
        "timeframe.end",
    ),
    "December 9999, daily": (
        "count",
        {
            "timeframe": {"start": "9999-12-01T00:00:00Z", "end": "9999-12-31T00:00:00Z"},
            "interval": "daily",
        },
        "timeframe.start",
    ),
    "December 9999, hourly, in a zone": (
        "sum",
        {
            "timeframe": {"start": "9999-12-31T00:00:00Z", "end": "9999-12-31T23:00:00Z"},
            "interval": "hourly",
            "timezone": "-36000",
            "target_property": "price",
        },
        "timeframe.start",
    ),
    "funnel step this_2027_years": (
        "funnel",
        {
            "steps": [
                {"event_collection": "a", "actor_property": "user.id"},
                {
                    "event_collection": "b",
                    "actor_property": "user.id",
                    "timeframe": "this_2027_years",
                },
            ],
            "timeframe": "this_7_days",
        },
        "steps[1].timeframe",
    ),
    "target_property a list": (
        "sum",
        {"target_property": ["price"], "timeframe": "this_7_days"},
        "target_property",
    ),
    "target_property a number": (
        "maximum",
        {"target_property": 5, "timeframe": "this_7_days", "group_by": "plan"},
        "target_property",
    ),
    "interval a list": ("count", {"interval": ["daily"]}, "interval"),
    "interval an object": ("count", {"interval": {"daily": 1}}, "interval"),
    "multi_analysis intervals disagree": (
        "multi_analysis",
        {
            "analyses": {
                "a": {"analysis_type": "count", "interval": "daily"},
                "b": {"analysis_type": "count"},
            },
            "timeframe": "this_7_days",
        },
        "analyses.a.interval",
    ),
    "multi_analysis timezones disagree": (
        "multi_analysis",
        {
            "analyses": {
                "a": {"analysis_type": "count"},
                "b": {"analysis_type": "count", "timezone": "Europe/Paris"},
            },
            "timeframe": "this_7_days",
            "interval": "daily",
        },
        "analyses.b.timezone",
    ),
    "multi_analysis timeframes disagree": (
        "multi_analysis",
        {
            "analyses": {
                "a": {"analysis_type": "count"},
                "b": {"analysis_type": "count", "timeframe": "this_3_days"},
            },
            "timeframe": "this_7_days",
            "interval": "daily",
        },
        "analyses.b.timeframe",
    ),
    "event_collection of 64 KB": ("count", {"event_collection": LONG_NAME}, "event_collection"),
    "funnel step event_collection of 64 KB": (
        "funnel",
        {
            "steps": [{"event_collection": LONG_NAME, "actor_property": "user.id"}],
            "timeframe": "this_7_days",
        },
        "steps[0].event_collection",
    ),
    "select_unique, event_collection of 64 KB": (
        "select_unique",
        {"event_collection": LONG_NAME, "target_property": "x"},
        "event_collection",
    ),
}


# Values of a type a query string cannot carry (GET sends every value as text).
POST_ONLY = {
    "target_property a list",
    "target_property a number",
    "interval a list",
    "interval an object",
}


@pytest.mark.parametrize(
    ("case", "post"),
    [
        pytest.param(case, post, id=f"{case}-{'POST' if post else 'GET'}")
        for case in QUERY_CASES
        for post in (False, True)
        if post or case not in POST_ONLY
    ],
)
def test_bad_query_parameters_get_a_400_naming_the_field(project_keys, case, post) -> None:
    analysis, params, field = QUERY_CASES[case]
    params = {"event_collection": "purchases", "timeframe": RECENT, **params}
    response = _keen_query(Client(), project_keys, analysis, params, post=post)
    assert response.status_code == 400, response.content[:500]
    body = response.json()
    timeframe = any(part.startswith("timeframe") for part in field.split("."))
    keen_code = "TimeframeDefinitionError" if timeframe else "BadRequestError"
    assert body["error_code"] == keen_code
    assert body["message"].startswith(f"{field}:"), body["message"][:300]


def test_event_collection_limit_is_named(project_keys) -> None:
    params = {"event_collection": "e" * 256, "timeframe": RECENT}
    response = _keen_query(Client(), project_keys, "count", params, post=False)
    assert response.status_code == 400
    assert response.json()["message"] == (
        "event_collection: is 256 characters long, exceeding the limit of 255"
    )


def test_event_collection_with_a_lone_surrogate_in_the_query_string(project_keys) -> None:
    """``%ED%A0%80`` is the UTF-8-style encoding of the lone surrogate U+D800."""
    url = f"/3.0/projects/{project_keys['project_id']}/queries/count"
    query = "event_collection=bad%ED%A0%80&timeframe=this_7_days"
    response = Client().get(f"{url}?{query}", HTTP_AUTHORIZATION=project_keys["read_key"])
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:
        assert response.json()["message"].startswith("event_collection:")


# Raw JSON bodies: NaN and Infinity are not JSON, so the body reader refuses them.
NON_FINITE_BODIES = {
    "timezone NaN": '{"event_collection": "e", "timeframe": "this_7_days", "timezone": NaN}',
    "window Infinity": '{"event_collection": "e", "timeframe": "this_7_days",'
    ' "interval": "daily", "kind": "sma", "window": Infinity}',
    "limit -Infinity": '{"event_collection": "e", "timeframe": "this_7_days",'
    ' "group_by": "plan", "limit": -Infinity}',
}


@pytest.mark.parametrize("case", list(NON_FINITE_BODIES))
def test_non_finite_numbers_in_query_bodies_get_a_400(project_keys, case) -> None:
    response = _native_query(Client(), project_keys, "count", NON_FINITE_BODIES[case])
    assert response.status_code == 400, response.content[:300]
    assert "finite" in response.json()["error"]["message"]


# Non-finite and huge numbers that reach the parameter parsers directly.
PARAMETER_NUMBERS: dict[str, tuple[dict[str, Any], str]] = {
    "timezone nan": ({"timezone": float("nan")}, "timezone"),
    "timezone inf": ({"timezone": float("inf")}, "timezone"),
    "timezone 1e300": ({"timezone": 1e300}, "timezone"),
    "window inf": ({"interval": "daily", "kind": "sma", "window": float("inf")}, "window"),
    "window nan": ({"interval": "daily", "kind": "sma", "window": float("nan")}, "window"),
    "window 1.5": ({"interval": "daily", "kind": "sma", "window": 1.5}, "window"),
    "limit inf": ({"group_by": "plan", "limit": float("inf")}, "limit"),
    "limit nan": ({"group_by": "plan", "limit": float("nan")}, "limit"),
    "limit a list": ({"group_by": "plan", "limit": [3]}, "limit"),
    "percentile nan": ({"percentile": float("nan")}, "percentile"),
}


@pytest.mark.parametrize("case", list(PARAMETER_NUMBERS))
def test_non_finite_parameters_are_refused_by_the_parser(case) -> None:
    from insights.queries import parse_query
    from insights.timeframes import QueryError

    extra, field = PARAMETER_NUMBERS[case]
    analysis = "percentile" if field == "percentile" else "count"
    params = {"event_collection": "e", "timeframe": "this_7_days", **extra}
    if analysis == "percentile":
        params["target_property"] = "x"
    with pytest.raises(QueryError) as raised:
        parse_query(analysis, params, now=NOW)
    assert raised.value.field == field


def _segment_auth(keys: dict) -> dict:
    basic = base64.b64encode(f"{keys['write_key']}:".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {basic}"}


EDGE_TIMES = {
    "timestamp year 1, sentAt year 9999": ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"),
    "timestamp year 9999, sentAt year 1": ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"),
}


@pytest.mark.parametrize("case", list(EDGE_TIMES))
def test_segment_edge_timestamps_reject_the_item_not_the_batch(project_keys, case) -> None:
    timestamp, sent_at = EDGE_TIMES[case]
    batch = {
        "batch": [
            {"type": "track", "event": "ok", "userId": "u1", "messageId": "m-ok-1"},
            {
                "type": "track",
                "event": "bad",
                "userId": "u2",
                "timestamp": timestamp,
                "sentAt": sent_at,
            },
            {"type": "track", "event": "ok", "userId": "u3", "messageId": "m-ok-2"},
        ],
    }
    response = Client().post(
        "/v1/batch", json.dumps(batch), "application/json", **_segment_auth(project_keys)
    )
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert body["success"] is True
    assert [(error["index"], error["field"]) for error in body["rejected"]] == [(1, "timestamp")]


@pytest.mark.parametrize("case", list(EDGE_TIMES))
def test_segment_edge_timestamps_on_a_single_call_get_a_400(project_keys, case) -> None:
    timestamp, sent_at = EDGE_TIMES[case]
    message = {"event": "bad", "userId": "u2", "timestamp": timestamp, "sentAt": sent_at}
    response = Client().post(
        "/v1/track", json.dumps(message), "application/json", **_segment_auth(project_keys)
    )
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["errors"][0]["field"] == "timestamp"


@pytest.mark.parametrize(
    ("collection", "fragment"),
    [("e" * 65536, "exceeding the limit of 64"), ("bad%ED%A0%80", "collection:")],
    ids=["64 KB", "lone surrogate"],
)
def test_keen_collection_in_the_path_gets_a_400(project_keys, collection, fragment) -> None:
    response = Client().post(
        f"/3.0/projects/{project_keys['project_id']}/events/{collection}",
        json.dumps({"price": 1}),
        "application/json",
        HTTP_AUTHORIZATION=project_keys["write_key"],
    )
    assert response.status_code == 400, response.content[:300]
    assert fragment in response.json()["message"]


def test_keen_batch_with_a_64_kb_collection_reports_it_and_keeps_the_rest(project_keys) -> None:
    body = {LONG_NAME: [{"price": 1}], "purchases": [{"price": 2}]}
    response = Client().post(
        f"/3.0/projects/{project_keys['project_id']}/events",
        json.dumps(body),
        "application/json",
        HTTP_AUTHORIZATION=project_keys["write_key"],
    )
    assert response.status_code == 200, response.content[:300]
    report = response.json()
    assert report["purchases"] == [{"success": True}]
    assert report[LONG_NAME][0]["success"] is False
    assert "exceeding the limit of 64" in report[LONG_NAME][0]["error"]["description"]


def test_the_query_parser_refuses_names_no_store_can_encode() -> None:
    """A lone surrogate reaching the parser (the body reader replaces them, but a
    caller may hand one in) is refused, never sent to Cassandra."""
    from insights.compound import parse_funnel
    from insights.queries import parse_query
    from insights.timeframes import QueryError

    with pytest.raises(QueryError) as raised:
        parse_query("count", {"event_collection": "bad\ud800", "timeframe": "this_7_days"}, now=NOW)
    assert raised.value.field == "event_collection"
    assert "lone surrogate" in raised.value.message
    with pytest.raises(QueryError) as raised:
        parse_query(
            "sum",
            {"event_collection": "e", "target_property": "p\udfff", "timeframe": "this_7_days"},
            now=NOW,
        )
    assert raised.value.field == "target_property"
    steps = [{"event_collection": "x\udc00", "actor_property": "user.id"}]
    with pytest.raises(QueryError) as raised:
        parse_funnel({"steps": steps, "timeframe": "this_7_days"}, now=NOW)
    assert raised.value.field == "steps[0].event_collection"


# --- Error shapes outside the views: unrouted paths, wrong methods, server errors ---


def _keen_shape(body: dict, error_code: str) -> None:
    assert set(body) == {"message", "error_code"}
    assert body["error_code"] == error_code
    assert body["message"]


def _native_shape(body: dict, status: int, code: str) -> None:
    assert set(body) == {"error"}
    assert body["error"]["status"] == status
    assert body["error"]["code"] == code
    assert body["error"]["message"]


@pytest.mark.parametrize(
    ("method", "url", "style"),
    [
        ("get", "/v1/nope", "native"),
        ("post", "/v1/track/extra", "native"),
        ("post", "/3.0/projects/p1/nope", "keen"),
        ("get", "/3.0/nope", "keen"),
        ("get", "/api/v1/nope", "native"),
        ("post", "/api/v1/events/", "native"),
    ],
)
def test_unrouted_api_paths_answer_404_in_the_api_shape(method, url, style) -> None:
    response = getattr(Client(), method)(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    if style == "keen":
        _keen_shape(response.json(), "ResourceNotFoundError")
    else:
        _native_shape(response.json(), 404, "not_found")


def test_unrouted_paths_elsewhere_keep_django_s_page() -> None:
    response = Client().get("/not-an-api-path")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_wrong_method_answers_405_in_each_door_s_shape(project_keys) -> None:
    client = Client()
    segment = client.get("/v1/track", **_segment_auth(project_keys))
    assert segment.status_code == 405
    _native_shape(segment.json(), 405, "method_not_allowed")
    keen = client.put(  # a DELETE is delete_events (master key)
        f"/3.0/projects/{project_keys['project_id']}/events/purchases",
        HTTP_AUTHORIZATION=project_keys["write_key"],
    )
    assert keen.status_code == 405
    _keen_shape(keen.json(), "MethodNotAllowedError")
    native = client.put("/api/v1/events", HTTP_AUTHORIZATION=f"Bearer {project_keys['write_key']}")
    assert native.status_code == 405
    _native_shape(native.json(), 405, "method_not_allowed")


def _boom(*args, **kwargs):
    raise RuntimeError("injected fault")


def test_server_errors_answer_500_in_each_door_s_shape(project_keys, monkeypatch) -> None:
    """A fault injected below each door (a bug, not bad input) gives the API's JSON 500,
    never Django's HTML page; the exception text is not shown."""
    monkeypatch.setattr("events.views.segment.normalize_segment", _boom)
    monkeypatch.setattr("events.views.keen.normalize_keen", _boom)
    monkeypatch.setattr("events.views.native.normalize_native", _boom)
    monkeypatch.setattr("insights.views.query_answer", _boom)
    client = Client(raise_request_exception=False)
    project = project_keys["project_id"]
    answers = {
        "segment": client.post(
            "/v1/track",
            json.dumps({"event": "e", "userId": "u"}),
            "application/json",
            **_segment_auth(project_keys),
        ),
        "keen": client.post(
            f"/3.0/projects/{project}/events/purchases",
            "{}",
            "application/json",
            HTTP_AUTHORIZATION=project_keys["write_key"],
        ),
        "keen query": client.get(
            f"/3.0/projects/{project}/queries/count",
            {"event_collection": "e", "timeframe": "this_2_days"},
            HTTP_AUTHORIZATION=project_keys["read_key"],
        ),
        "native": client.post(
            "/api/v1/events",
            json.dumps({"name": "e"}),
            "application/json",
            HTTP_AUTHORIZATION=f"Bearer {project_keys['write_key']}",
        ),
        "native query": client.get(
            "/api/v1/insights/count",
            {"event_collection": "e", "timeframe": "this_2_days"},
            HTTP_AUTHORIZATION=f"Bearer {project_keys['read_key']}",
        ),
    }
    for door, response in answers.items():
        assert response.status_code == 500, door
        assert response["Content-Type"] == "application/json", door
        assert b"injected fault" not in response.content, door
        if door.startswith("keen"):
            _keen_shape(response.json(), "InternalServerError")
        else:
            _native_shape(response.json(), 500, "error")
