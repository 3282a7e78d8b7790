"""A suppressing deletion refuses the users' later events at the door, through the real
stack (Redis, a Celery worker, Kafka); lifting it in the admin lets them in again."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from rest_framework.test import APIClient

from events import stream, suppression
from insights.models import Deletion

if TYPE_CHECKING:
    from tests.conftest import WorkerProcess
    from tests.events.kafka_tap import KafkaTap

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def _send(keys: dict, batch: list[dict]):
    body = json.dumps({"batch": batch})
    return _client(keys["write_key"]).post("/api/v1/events", body, content_type="application/json")


def _ask(keys: dict, body: dict, capture) -> int:
    with capture(execute=True):  # the suppressed set is synced once the request commits
        answer = _client(keys["master_key"]).post("/api/v1/deletions", body, format="json")
    assert answer.status_code == 202, answer.content
    return answer.json()["id"]


def _batch(tag: str) -> list[dict]:
    users = ["gone", "kept", "gone", "other", "gone"]
    return [
        {"name": "page", "event_id": f"{tag}-{i}", "category": "web", "distinct_id": user}
        for i, user in enumerate(users)
    ]


def test_a_suppressed_user_is_refused_at_the_door_and_lifting_lets_them_in(
    project_keys: dict,
    kafka_tap: KafkaTap,
    celery_worker: WorkerProcess,
    admin_client,
    django_capture_on_commit_callbacks,
) -> None:
    project_id = str(project_keys["project_id"])
    capture = django_capture_on_commit_callbacks
    narrow = {"distinct_ids": ["kept"], "suppress": True, "event": "signup"}
    _ask(project_keys, narrow, capture)  # acts at aggregation only
    whole = _ask(project_keys, {"distinct_ids": ["gone"], "suppress": True}, capture)
    members = stream.client().smembers(suppression.key(project_id))
    assert members == {b"gone"}

    answer = _send(project_keys, _batch("a"))
    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert body["event_ids"] == ["a-1", "a-3"]
    assert [(e["index"], e["field"]) for e in body["rejected"]] == [
        (0, "distinct_id"),
        (2, "distinct_id"),
        (4, "distinct_id"),
    ]
    assert "suppressed" in body["rejected"][0]["message"]
    single = _client(project_keys["write_key"]).post(
        "/api/v1/events",
        json.dumps({"name": "page", "event_id": "a-9", "distinct_id": "gone"}),
        content_type="application/json",
    )
    assert single.status_code == 400
    assert single.json()["error"]["errors"][0]["field"] == "distinct_id"

    changelist = "/admin/insights/deletion/"
    lifted = admin_client.post(
        changelist, {"action": "lift_suppression", "_selected_action": [whole]}
    )
    assert lifted.status_code == 302
    assert stream.client().smembers(suppression.key(project_id)) == set()
    assert Deletion.objects.get(pk=whole).suppress is False

    again = _send(project_keys, _batch("b"))
    assert again.status_code == 202
    assert again.json()["event_ids"] == [f"b-{i}" for i in range(5)]
    records = kafka_tap.collect(project_id=project_id, expected=7)
    assert sorted(r["event_id"] for _, r in records) == sorted(
        ["a-1", "a-3", *(f"b-{i}" for i in range(5))]
    )
