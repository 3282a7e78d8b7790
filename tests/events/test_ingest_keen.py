"""Keen-compatible writes, including the unmodified ``keen`` Python client."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from keen.client import KeenClient
from rest_framework.test import APIClient

if TYPE_CHECKING:
    from pytest_django.live_server_helper import LiveServer

    from tests.conftest import WorkerProcess
    from tests.events.kafka_tap import KafkaTap

pytestmark = pytest.mark.integration


def _post(path: str, body, key: str | None):
    headers: dict[str, Any] = {"HTTP_AUTHORIZATION": key} if key else {}
    return APIClient().generic("POST", path, json.dumps(body), "application/json", **headers)


@pytest.mark.django_db
def test_single_and_batch(
    project_keys: dict[str, str], kafka_tap: KafkaTap, celery_worker: WorkerProcess
) -> None:
    pid, key = project_keys["project_id"], project_keys["write_key"]
    single = _post(
        f"/3.0/projects/{pid}/events/purchases",
        {"price": 10, "keen": {"id": "k-1", "timestamp": "2026-01-02T03:04:05Z"}},
        key,
    )
    assert single.status_code == 201, single.content
    assert single.json() == {"created": True}

    batch = _post(
        f"/3.0/projects/{pid}/events",
        {
            "purchases": [{"price": 1, "keen": {"id": "k-2"}}, "bad"],
            "signups": [{"plan": "pro", "keen": {"id": "k-3"}}],
        },
        key,
    )
    assert batch.status_code == 200, batch.content
    report = batch.json()
    assert report["signups"] == [{"success": True}]
    assert report["purchases"][0] == {"success": True}
    assert report["purchases"][1]["success"] is False
    assert report["purchases"][1]["error"]["description"]

    records = kafka_tap.collect(project_id=pid, expected=3)
    by_id = {record["event_id"]: record for _, record in records}
    assert set(by_id) == {"k-1", "k-2", "k-3"}
    assert by_id["k-1"]["name"] == "purchases"
    assert by_id["k-1"]["timestamp"].startswith("2026-01-02T03:04:05")
    assert by_id["k-1"]["properties"] == {"price": 10}
    assert by_id["k-3"]["name"] == "signups"


@pytest.mark.django_db
def test_keen_errors_use_keens_shape(project_keys: dict[str, str]) -> None:
    pid = project_keys["project_id"]
    missing = _post(f"/3.0/projects/{pid}/events/c", {"a": 1}, None)
    assert missing.status_code == 401
    assert set(missing.json()) == {"message", "error_code"}
    other_project = _post("/3.0/projects/someoneelse/events/c", {"a": 1}, project_keys["write_key"])
    assert other_project.status_code == 403
    assert "someoneelse" in other_project.json()["message"]
    read_key = _post(f"/3.0/projects/{pid}/events/c", {"a": 1}, project_keys["read_key"])
    assert read_key.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_unmodified_keen_client(
    project_keys: dict[str, str],
    kafka_tap: KafkaTap,
    celery_worker: WorkerProcess,
    live_server: LiveServer,
) -> None:
    client = KeenClient(
        project_id=project_keys["project_id"],
        write_key=project_keys["write_key"],
        base_url=live_server.url,
    )
    for n in range(10):
        client.add_event("clicks", {"n": n, "keen": {"id": f"kc-{n}"}})
    reply = client.add_events(
        {"views": [{"page": "/a", "keen": {"id": "kv-1"}}, {"page": "/b", "keen": {"id": "kv-2"}}]}
    )
    assert reply == {"views": [{"success": True}, {"success": True}]}
    records = kafka_tap.collect(project_id=project_keys["project_id"], expected=12)
    by_id = {record["event_id"]: record for _, record in records}
    assert set(by_id) == {f"kc-{n}" for n in range(10)} | {"kv-1", "kv-2"}
    assert by_id["kc-4"]["properties"] == {"n": 4}
    assert by_id["kv-2"]["name"] == "views"
