"""The browser door: CORS on the doors, sendBeacon bodies, GET pixels, Segment's routes."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from django.urls import include, path

from events.limits import Limits
from events.normalize import normalize_segment
from events.pixels import TRANSPARENT_GIF, decode_pixel_data
from events.services import create_project_with_keys

if TYPE_CHECKING:
    from pytest_django.fixtures import Settings

    from tests.conftest import WorkerProcess
    from tests.events.kafka_tap import KafkaTap

ORIGIN = "https://shop.example"
SDK_HEADERS = ("authorization", "content-type", "content-encoding", "keen-sdk")
BEACON = "text/plain;charset=UTF-8"


def _boom(request):
    raise RuntimeError("an uncaught failure")


# This module is also a URLconf (``pytest.mark.urls``): the real routes plus one that fails.
urlpatterns = [path("v1/explode", _boom), path("", include("analytics_site.urls"))]
handler404 = "analytics_site.errors.page_not_found"
handler500 = "analytics_site.errors.server_error"


def _b64(value: object, *, urlsafe: bool = False, pad: bool = True) -> str:
    raw = json.dumps(value).encode()
    text = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()
    return text if pad else text.rstrip("=")


def _by_event_id(records: list[tuple[str, dict]]) -> dict[str, dict]:
    """The (topic, record) pairs a Kafka tap collected, by event id."""
    return {record["event_id"]: record for _, record in records}


def _client() -> Client:
    return Client(HTTP_ORIGIN=ORIGIN, raise_request_exception=False)


def _send(method: str, url: str, body: object = None, content_type: str = BEACON, **headers):
    data = b"" if body is None else json.dumps(body).encode()
    return _client().generic(method, url, data, content_type, **headers)


# --- Without services: CORS preflights, unrouted paths, the 500 page, decoding ---------

DOORS = [
    "/api/v1/events",
    "/v1/track",
    "/v1/identify/",
    "/v1/batch",
    "/v1/import/",
    "/v1/pixel/page",
    "/3.0/projects/p1/events",
    "/3.0/projects/p1/events/clicks",
    "/3.0/projects/p1/queries/count",
]


@pytest.mark.parametrize("url", DOORS)
def test_preflight_is_204_without_a_key(url: str) -> None:
    response = _client().options(
        url,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type,keen-sdk",
    )
    assert response.status_code == 204
    assert response.content == b""
    assert not response.has_header("Content-Length")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert not response.has_header("Access-Control-Allow-Credentials")
    assert {"GET", "POST", "OPTIONS"} <= set(response["Access-Control-Allow-Methods"].split(", "))
    allowed = set(response["Access-Control-Allow-Headers"].split(", "))
    assert {*SDK_HEADERS, "x-api-key", "x-request-id"} <= allowed


def test_cors_only_on_the_doors() -> None:
    preflight: dict[str, Any] = {"HTTP_ACCESS_CONTROL_REQUEST_METHOD": "GET"}
    assert _client().options("/v1/track", **preflight)["Access-Control-Allow-Origin"] == "*"
    for url in ("/admin/login/", "/api/v1/insights/count", "/api/v1/health", "/api/v1/schema"):
        response = _client().options(url, **preflight)
        assert not response.has_header("Access-Control-Allow-Origin"), url


@pytest.mark.parametrize(
    ("method", "url", "style"),
    [
        ("GET", "/v1/nope", "native"),
        ("POST", "/v1/nope/", "native"),
        ("POST", "/v1/pixel/nope", "native"),
        ("POST", "/api/v1/events/extra", "native"),
        ("GET", "/3.0/projects/p1/events/a/b", "keen"),
    ],
)
def test_unrouted_paths_answer_json_with_cors(method: str, url: str, style: str) -> None:
    response = _send(method, url, {"a": 1}, "application/json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    body = response.json()
    if style == "keen":
        assert body["error_code"] == "ResourceNotFoundError"
    else:
        assert body["error"]["code"] == "not_found"


@pytest.mark.urls("tests.events.test_browser_door")
def test_uncaught_500_answers_json_with_cors() -> None:
    response = _client().get("/v1/explode")
    assert response.status_code == 500
    assert response.json()["error"]["status"] == 500
    assert response["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("url", ["/v1/pixel/track", "/v1/pixel/track/"])
def test_a_post_to_a_pixel_is_a_json_405(url: str) -> None:
    response = _send("POST", url, {"event": "E", "userId": "u"}, "application/json")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, OPTIONS"
    assert response["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("urlsafe", [False, True])
@pytest.mark.parametrize("pad", [False, True])
def test_pixel_data_in_either_alphabet_padded_or_not(urlsafe: bool, pad: bool) -> None:
    event = {"q": "??>>~~", "n": 1}  # encodes to both "+/" and "-_" characters
    assert decode_pixel_data(_b64(event, urlsafe=urlsafe, pad=pad), limit=1000) == event
    # A "+" sent unescaped in a query string arrives as a space.
    assert decode_pixel_data(_b64(event).replace("+", " "), limit=1000) == event


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (None, "required"),
        ("", "required"),
        ("not*base64!", "not base64"),
        ("abcde", "not base64"),
        (base64.b64encode(b"\xff\xfe").decode(), "UTF-8"),
        (base64.b64encode(b"{nope").decode(), "not valid JSON"),
        (base64.b64encode(b'{"a": 1, "a": 2}').decode(), "twice"),
    ],
)
def test_bad_pixel_data_is_a_400_naming_data(value: str | None, why: str) -> None:
    from rest_framework.exceptions import ParseError

    with pytest.raises(ParseError) as raised:
        decode_pixel_data(value, limit=1000)
    assert str(raised.value.detail).startswith("data: ")
    assert why in str(raised.value.detail)


def test_pixel_data_past_the_body_limit_is_a_413() -> None:
    from analytics_site.errors import PayloadTooLarge

    event = {"blob": "x" * 200}
    assert decode_pixel_data(_b64(event), limit=300) == event
    with pytest.raises(PayloadTooLarge, match=r"data: .*limit of 100 bytes"):
        decode_pixel_data(_b64(event), limit=100)


def test_transparent_gif_is_the_43_byte_1x1() -> None:
    assert len(TRANSPARENT_GIF) == 43
    assert TRANSPARENT_GIF[:6] == b"GIF89a"
    assert TRANSPARENT_GIF[6:10] == b"\x01\x00\x01\x00"  # width 1, height 1
    assert TRANSPARENT_GIF.endswith(b";")


def test_identify_takes_context_traits_when_traits_are_absent() -> None:
    def identify(message: dict, batch: dict | None = None) -> dict:
        return normalize_segment(
            {"userId": "u1", **message},
            call_type="identify",
            project_id="p",
            received_at=datetime(2026, 1, 1, tzinfo=UTC),
            limits=Limits(),
            batch=batch,
        ).properties

    traits = {"email": "a@b.c", "plan": "pro"}
    assert identify({"context": {"traits": traits}}) == traits
    assert identify({"traits": None, "context": {"traits": traits}}) == traits
    assert identify({}, {"context": {"traits": traits}}) == traits  # the batch's context
    assert identify({"traits": {"own": 1}, "context": {"traits": traits}}) == {"own": 1}
    assert identify({"context": {"traits": "not an object"}}) == {}


# --- With the services: every answer carries CORS; beacons and pixels reach Kafka -------


@pytest.mark.integration
@pytest.mark.django_db
def test_every_answer_of_the_doors_carries_cors(
    project_keys: dict[str, str], settings: Settings
) -> None:
    pid, write, read = (project_keys[k] for k in ("project_id", "write_key", "read_key"))
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {write}"}
    answers = {
        "202 native": _send("POST", "/api/v1/events", {"name": "e"}, **bearer),
        "201 keen": _send("POST", f"/3.0/projects/{pid}/events/c?api_key={write}", {"a": 1}),
        "400 native": _send("POST", "/api/v1/events", {"name": ""}, **bearer),
        "400 segment": _send("POST", "/v1/track", {"writeKey": write, "userId": "u"}),
        "400 keen query": _send("GET", f"/3.0/projects/{pid}/queries/count?api_key={read}"),
        "401 native": _send("POST", "/api/v1/events", {"name": "e"}),
        "401 segment pixel": _send("GET", f"/v1/pixel/track?data={_b64({'event': 'E'})}"),
        "401 keen query": _send("GET", f"/3.0/projects/{pid}/queries/count"),
        "403 keen": _send("POST", f"/3.0/projects/{pid}/events/c?api_key={read}", {"a": 1}),
        "404 segment": _send("POST", "/v1/trak", {"writeKey": write}),
    }
    settings.EVENT_LIMITS = {**settings.EVENT_LIMITS, "max_body_bytes": 100}
    answers["413 segment"] = _send("POST", "/v1/track", {"writeKey": write, "x": "y" * 200})
    answers["413 keen pixel"] = _send(
        "GET", f"/3.0/projects/{pid}/events/c?api_key={write}&data={_b64({'x': 'y' * 200})}"
    )
    settings.EVENT_LIMITS = {**settings.EVENT_LIMITS, "max_body_bytes": 500 * 1024}
    settings.INGEST_RATE_LIMIT = (1, 60)
    _, keys = create_project_with_keys(name="rate limited")  # its own, uncounted key
    track = {"writeKey": keys["write"], "userId": "u", "event": "E"}
    first = _send("POST", "/v1/track", track)
    answers["429 segment"] = _send("POST", "/v1/track", track)

    statuses = {label: response.status_code for label, response in answers.items()}
    assert first.status_code == 200
    assert statuses == {label: int(label[:3]) for label in answers}
    for label, response in answers.items():
        assert response["Access-Control-Allow-Origin"] == "*", label
        assert response["Content-Type"] == "application/json" or label.startswith("2"), label
    assert answers["429 segment"].has_header("Retry-After")
    assert answers["429 segment"]["Access-Control-Expose-Headers"] == "Retry-After"


@pytest.mark.integration
@pytest.mark.django_db
def test_auth_lockout_429_carries_cors(project_keys: dict[str, str], settings: Settings) -> None:
    settings.AUTH_FAILURE_RATE_LIMIT = (1, 60)
    bad = {"HTTP_AUTHORIZATION": "Bearer not-a-key"}
    assert _send("POST", "/api/v1/events", {"name": "e"}, **bad).status_code == 401
    locked = _send("POST", "/api/v1/events", {"name": "e"}, **bad)
    assert locked.status_code == 429
    assert locked["Access-Control-Allow-Origin"] == "*"


@pytest.mark.integration
@pytest.mark.django_db
def test_beacons_on_every_write_door_reach_kafka(
    project_keys: dict[str, str], kafka_tap: KafkaTap, celery_worker: WorkerProcess
) -> None:
    pid, write = project_keys["project_id"], project_keys["write_key"]
    track = {"writeKey": write, "userId": "u1", "type": "track"}
    beacons = [
        ("/api/v1/events", {"name": "native_beacon", "event_id": "b-native"}, 202),
        ("/api/v1/events", {"batch": [{"name": "native_batch", "event_id": "b-native-2"}]}, 202),
        ("/v1/track", {**track, "event": "seg_track", "messageId": "b-track"}, 200),
        ("/v1/track/", {**track, "event": "seg_slash", "messageId": "b-slash"}, 200),
        (
            "/v1/identify",
            {
                "writeKey": write,
                "userId": "u1",
                "messageId": "b-identify",
                "context": {"traits": {"email": "a@b.c"}},
            },
            200,
        ),
        (
            "/v1/batch/",
            {"writeKey": write, "batch": [{**track, "event": "seg_batch", "messageId": "b-batch"}]},
            200,
        ),
        (
            "/v1/import",
            {"writeKey": write, "batch": [{**track, "event": "seg_import", "messageId": "b-imp"}]},
            200,
        ),
        (
            "/v1/import/",
            {"writeKey": write, "batch": [{**track, "event": "seg_imp2", "messageId": "b-imp2"}]},
            200,
        ),
        (f"/3.0/projects/{pid}/events/keen_beacon", {"keen": {"id": "b-keen"}}, 201),
        (f"/3.0/projects/{pid}/events", {"keen_batch": [{"keen": {"id": "b-keen-2"}}]}, 200),
    ]
    for url, body, status in beacons:
        query = "" if url.startswith("/v1/") else f"?api_key={write}"
        response = _send("POST", url + query, body)
        assert response.status_code == status, (url, response.content)
        assert response["Access-Control-Allow-Origin"] == "*"

    by_id = _by_event_id(kafka_tap.collect(project_id=pid, expected=len(beacons)))
    assert {event_id: record["name"] for event_id, record in by_id.items()} == {
        "b-native": "native_beacon",
        "b-native-2": "native_batch",
        "b-track": "seg_track",
        "b-slash": "seg_slash",
        "b-identify": "identify",
        "b-batch": "seg_batch",
        "b-imp": "seg_import",
        "b-imp2": "seg_imp2",
        "b-keen": "keen_beacon",
        "b-keen-2": "keen_batch",
    }
    assert by_id["b-identify"]["properties"] == {"email": "a@b.c"}


@pytest.mark.integration
@pytest.mark.django_db
def test_pixels_answer_the_gif_and_reach_kafka(
    project_keys: dict[str, str], kafka_tap: KafkaTap, celery_worker: WorkerProcess
) -> None:
    pid, write = project_keys["project_id"], project_keys["write_key"]
    keen = {"item": "hat", "price": 12, "keen": {"id": "px-keen"}}
    pixels = [
        f"/3.0/projects/{pid}/events/views?api_key={write}&data={_b64(keen, urlsafe=True)}",
        "/v1/pixel/track?data="
        + _b64({"writeKey": write, "userId": "u", "event": "Opened", "messageId": "px-track"}),
        "/v1/pixel/page/?data="
        + _b64({"writeKey": write, "anonymousId": "a", "name": "Home", "messageId": "px-page"}),
        "/v1/pixel/identify?data="
        + _b64({"writeKey": write, "userId": "u", "traits": {"n": 1}, "messageId": "px-id"}),
    ]
    for url in pixels:
        response = _client().get(url)
        assert response.status_code == 200, (url, response.content)
        assert response["Content-Type"] == "image/gif"
        assert response.content == TRANSPARENT_GIF
        assert "no-store" in response["Cache-Control"]
        assert response["Access-Control-Allow-Origin"] == "*"

    by_id = _by_event_id(kafka_tap.collect(project_id=pid, expected=len(pixels)))
    assert {event_id: record["name"] for event_id, record in by_id.items()} == {
        "px-keen": "views",
        "px-track": "Opened",
        "px-page": "page",
        "px-id": "identify",
    }
    assert by_id["px-keen"]["properties"] == {"item": "hat", "price": 12}
    assert by_id["px-id"]["properties"] == {"n": 1}


@pytest.mark.integration
@pytest.mark.django_db
def test_the_keen_clients_image_beacon_url_counts_its_event(
    project_keys: dict[str, str], kafka_tap: KafkaTap, celery_worker: WorkerProcess
) -> None:
    from urllib.parse import urlsplit

    from keen.client import KeenClient

    pid, write = project_keys["project_id"], project_keys["write_key"]
    # keen 0.7.0 builds the beacon URL with write_key.decode(): on Python 3 the key must be
    # given as bytes (the client's own quirk, unchanged here)
    client = KeenClient(project_id=pid, write_key=write.encode(), base_url="http://testserver")
    url = client.generate_image_beacon("beacons", {"plan": "pro", "keen": {"id": "px-client"}})
    parts = urlsplit(url)
    response = _client().get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content == TRANSPARENT_GIF
    ((_, record),) = kafka_tap.collect(project_id=pid, expected=1)
    assert (record["event_id"], record["name"]) == ("px-client", "beacons")
    assert record["properties"] == {"plan": "pro"}


@pytest.mark.integration
@pytest.mark.django_db
def test_bad_pixel_data_is_a_json_400_naming_data(project_keys: dict[str, str]) -> None:
    pid, write = project_keys["project_id"], project_keys["write_key"]
    keen = _client().get(f"/3.0/projects/{pid}/events/views?api_key={write}&data=%25%25")
    assert keen.status_code == 400
    assert keen.json()["message"].startswith("data: ")
    assert keen.json()["error_code"] == "InvalidEventError"
    assert keen["Access-Control-Allow-Origin"] == "*"
    for data in ("", base64.b64encode(b"[1]").decode(), "%7Bnot-json", "e30*"):
        segment = _client().get(f"/v1/pixel/track?data={data}")
        assert segment.status_code == 400, data
        assert segment.json()["error"]["message"].startswith("data: "), data
        assert segment["Access-Control-Allow-Origin"] == "*"
