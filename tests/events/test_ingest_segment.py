"""Segment-compatible endpoints, including the unmodified segment-analytics-python SDK."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

import pytest
from rest_framework.test import APIClient
from segment.analytics import Client as SegmentClient

if TYPE_CHECKING:
    from pytest_django.live_server_helper import LiveServer

    from tests.conftest import WorkerProcess
    from tests.events.kafka_tap import KafkaTap

pytestmark = pytest.mark.integration


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def _post(path: str, body: dict, **headers):
    return APIClient().generic("POST", path, json.dumps(body), "application/json", **headers)


@pytest.mark.django_db
def test_every_call_type(
    project_keys: dict[str, str], kafka_tap: KafkaTap, celery_worker: WorkerProcess
) -> None:
    auth = {"HTTP_AUTHORIZATION": _basic(project_keys["write_key"])}
    calls: dict[str, dict[str, Any]] = {
        "track": {"userId": "u1", "event": "Order Completed", "properties": {"total": 30}},
        "identify": {"userId": "u1", "traits": {"email": "a@b.c"}},
        "page": {"anonymousId": "anon-1", "name": "Home", "properties": {"path": "/"}},
        "screen": {"userId": "u1", "name": "Settings"},
        "group": {"userId": "u1", "groupId": "g1", "traits": {"plan": "team"}},
        "alias": {"userId": "u1", "previousId": "anon-1"},
    }
    for call, body in calls.items():
        response = _post(f"/v1/{call}", {**body, "messageId": f"m-{call}"}, **auth)
        assert response.status_code == 200, (call, response.content)
        assert response.json() == {"success": True}
    records = kafka_tap.collect(project_id=project_keys["project_id"], expected=6)
    names = {record["event_id"]: record["name"] for _, record in records}
    assert names == {
        "m-track": "Order Completed",
        "m-identify": "identify",
        "m-page": "page",
        "m-screen": "screen",
        "m-group": "group",
        "m-alias": "alias",
    }


@pytest.mark.django_db
def test_write_key_in_body_and_missing_fields(project_keys: dict[str, str]) -> None:
    ok = _post("/v1/track", {"writeKey": project_keys["write_key"], "userId": "u", "event": "E"})
    assert ok.status_code == 200
    missing = _post("/v1/track", {"writeKey": project_keys["write_key"], "userId": "u"})
    assert missing.status_code == 400
    assert missing.json()["error"]["errors"][0]["field"] == "event"
    no_user = _post("/v1/identify", {"writeKey": project_keys["write_key"], "traits": {}})
    assert no_user.status_code == 400
    assert _post("/v1/track", {"userId": "u", "event": "E"}).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_unmodified_segment_sdk(
    project_keys: dict[str, str],
    kafka_tap: KafkaTap,
    celery_worker: WorkerProcess,
    live_server: LiveServer,
) -> None:
    errors = []
    client = SegmentClient(
        project_keys["write_key"],
        host=live_server.url,
        sync_mode=True,
        on_error=lambda error, batch: errors.append(error),
        gzip=True,
    )
    for n in range(25):
        client.track(
            user_id=f"user-{n % 5}", event="Played", properties={"n": n}, message_id=f"sdk-{n}"
        )
    client.identify(user_id="user-0", traits={"name": "Ada"}, message_id="sdk-identify")
    client.flush()
    assert errors == []
    records = kafka_tap.collect(project_id=project_keys["project_id"], expected=26)
    by_id = {record["event_id"]: record for _, record in records}
    assert len(records) == 26
    assert set(by_id) == {f"sdk-{n}" for n in range(25)} | {"sdk-identify"}
    assert by_id["sdk-7"]["properties"] == {"n": 7}
    assert by_id["sdk-7"]["distinct_id"] == "user-2"
    assert by_id["sdk-7"]["category"] == "server"
    assert by_id["sdk-identify"]["name"] == "identify"
