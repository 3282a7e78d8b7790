"""``POST /api/v1/events`` against the real stack: Redis, a Celery worker, Kafka."""

from __future__ import annotations

import gzip
import json
from typing import TYPE_CHECKING

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from events.models import ApiKey

if TYPE_CHECKING:
    from pytest_django.fixtures import Settings

    from tests.conftest import WorkerProcess
    from tests.events.kafka_tap import KafkaTap

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _post(body, *, key: str | None, headers: dict | None = None, raw: bytes | None = None):
    client = APIClient()
    extra = dict(headers or {})
    if key:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    data = raw if raw is not None else json.dumps(body).encode()
    # DRF's stubs type ``data`` as str; it is passed on to Django's generic(), which takes bytes.
    return client.generic("POST", "/api/v1/events", data, "application/json", **extra)  # type: ignore[arg-type]


def test_single_event_reaches_its_category_topic(
    project_keys: dict[str, str], kafka_tap: KafkaTap, celery_worker: WorkerProcess
) -> None:
    event = {
        "name": "signup",
        "event_id": "e-1",
        "category": "mobile",
        "distinct_id": "user-1",
        "timestamp": "2026-11-26T10:00:00Z",
        "properties": {"plan": "pro", "seats": 3},
    }
    response = _post(event, key=project_keys["write_key"])
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 1, "event_ids": ["e-1"], "rejected": []}

    records = kafka_tap.collect(project_id=project_keys["project_id"], expected=1)
    assert len(records) == 1
    topic, record = records[0]
    assert topic == "analytics.events.mobile"
    assert record["event_id"] == "e-1"
    assert record["name"] == "signup"
    assert record["distinct_id"] == "user-1"
    assert record["properties"] == {"plan": "pro", "seats": 3}
    assert record["timestamp"].startswith("2026-11-26T10:00:00")
    assert record["source"] == "native"


def test_mixed_batch_keeps_the_valid_events(
    project_keys: dict[str, str], kafka_tap: KafkaTap, celery_worker: WorkerProcess
) -> None:
    batch = [
        {"name": "a", "event_id": "ok-1", "category": "web"},
        {"properties": {"x": 1}},  # no name
        {"name": "b", "event_id": "ok-2", "category": "web"},
        {"name": "c", "timestamp": "2999-01-01T00:00:00Z"},  # far future
    ]
    response = _post({"batch": batch}, key=project_keys["write_key"])
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["accepted"] == 2
    assert body["event_ids"] == ["ok-1", "ok-2"]
    assert {(error["index"], error["field"]) for error in body["rejected"]} == {
        (1, "name"),
        (3, "timestamp"),
    }
    records = kafka_tap.collect(project_id=project_keys["project_id"], expected=2)
    assert sorted(record["event_id"] for _, record in records) == ["ok-1", "ok-2"]


def test_gzip_body_is_accepted(
    project_keys: dict[str, str], kafka_tap: KafkaTap, celery_worker: WorkerProcess
) -> None:
    body = gzip.compress(json.dumps({"batch": [{"name": "z", "event_id": "gz-1"}]}).encode())
    response = _post(
        None, key=project_keys["write_key"], raw=body, headers={"HTTP_CONTENT_ENCODING": "gzip"}
    )
    assert response.status_code == 202, response.content
    records = kafka_tap.collect(project_id=project_keys["project_id"], expected=1)
    assert [record["event_id"] for _, record in records] == ["gz-1"]


def test_nothing_valid_is_a_400_listing_every_error(project_keys: dict[str, str]) -> None:
    response = _post({"batch": [{"name": ""}, "not an object"]}, key=project_keys["write_key"])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400
    assert [e["index"] for e in error["errors"]] == [0, 1]
    assert all(e["field"] is not None and e["message"] for e in error["errors"])


def test_malformed_json_and_wrong_shapes_are_400(project_keys: dict[str, str]) -> None:
    assert _post(None, key=project_keys["write_key"], raw=b"{nope").status_code == 400
    assert _post({"batch": "x"}, key=project_keys["write_key"]).status_code == 400
    assert _post(None, key=project_keys["write_key"], raw=b"").status_code == 400


def test_size_limits_answer_413(project_keys: dict[str, str], settings: Settings) -> None:
    key = project_keys["write_key"]
    too_many = {"batch": [{"name": "n"}] * 2501}
    response = _post(too_many, key=key)
    assert response.status_code == 413
    assert "2500" in response.json()["error"]["message"]

    big_event = {"name": "big", "properties": {"blob": "x" * (33 * 1024)}}
    response = _post(big_event, key=key)
    assert response.status_code == 413
    assert "32768" in response.json()["error"]["message"]

    big_body = {"batch": [{"name": "n", "properties": {"b": "x" * 20000}}] * 30}
    response = _post(big_body, key=key)
    assert response.status_code == 413
    assert "512000" in response.json()["error"]["message"]

    bomb = gzip.compress(b'{"name": "' + b"x" * (600 * 1024) + b'"}')
    response = _post(None, key=key, raw=bomb, headers={"HTTP_CONTENT_ENCODING": "gzip"})
    assert response.status_code == 413
    assert "after decompression" in response.json()["error"]["message"]


def test_auth_failures(project_keys: dict[str, str]) -> None:
    event = {"name": "x"}
    assert _post(event, key=None).status_code == 401
    assert _post(event, key="wk_not-a-real-key").status_code == 401
    read = _post(event, key=project_keys["read_key"])
    assert read.status_code == 403
    assert "read key" in read.json()["error"]["message"]
    via_header = _post(event, key=None, headers={"HTTP_X_API_KEY": project_keys["master_key"]})
    assert via_header.status_code != 401
    ApiKey.objects.filter(kind="write").update(revoked_at=timezone.now())
    assert _post(event, key=project_keys["write_key"]).status_code == 401


def test_rate_limit_answers_429_with_retry_after(
    project_keys: dict[str, str], settings: Settings, celery_worker: WorkerProcess
) -> None:
    settings.INGEST_RATE_LIMIT = (2, 60)
    key = project_keys["write_key"]
    assert _post({"name": "a"}, key=key).status_code == 202
    assert _post({"name": "b"}, key=key).status_code == 202
    throttled = _post({"name": "c"}, key=key)
    assert throttled.status_code == 429
    assert 1 <= int(throttled["Retry-After"]) <= 60
    assert "2 requests per 60s" in throttled.json()["error"]["message"]


@pytest.mark.parametrize("accept", ["application/xml", "text/html", "image/*", "*/*", ""])
def test_every_accept_header_gets_a_json_answer(project_keys: dict[str, str], accept: str) -> None:
    """SDKs send all kinds of ``Accept``: the answer is JSON, never a 406 or HTML."""
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    event = {"name": "a", "event_id": f"accept-{accept or 'none'}"}
    accepted = _post(event, key=project_keys["write_key"], headers=headers)
    assert accepted.status_code == 202, accepted.content
    assert accepted["Content-Type"] == "application/json"
    assert accepted.json()["event_ids"] == [event["event_id"]]
    refused = _post({"properties": {}}, key=project_keys["write_key"], headers=headers)
    assert refused.status_code == 400
    assert refused["Content-Type"] == "application/json"
    assert refused.json()["error"]["errors"][0]["field"] == "name"
