"""Events without an id get ids derived from the load balancer's request id, so a
POST the balancer retries on another instance is counted once."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from rest_framework.test import APIClient

from events.envelope import RequestEventIds
from tests.events.stream_tap import appended

if TYPE_CHECKING:
    from pytest_django.fixtures import Settings


def test_the_same_request_gets_the_same_ids() -> None:
    first, again = RequestEventIds("p1", "req-1"), RequestEventIds("p1", "req-1")
    ids = [first.next() for _ in range(3)]
    assert ids == [again.next() for _ in range(3)]
    assert len(set(ids)) == 3
    other_request = RequestEventIds("p1", "req-2")
    other_project = RequestEventIds("p2", "req-1")
    assert other_request.next() not in ids
    assert other_project.next() not in ids


def test_without_a_request_id_every_id_is_a_new_uuid7() -> None:
    ids = RequestEventIds("p1", None)
    first, second = ids.next(), ids.next()
    assert first != second
    assert uuid.UUID(first).version == 7


@pytest.mark.integration
@pytest.mark.django_db
def test_a_retried_post_carries_the_same_event_ids(
    services_up: None, project_keys: dict[str, str], private_queue: str, settings: Settings
) -> None:
    settings.EVENT_ID_REQUEST_HEADER = "X-Request-Id"
    client = APIClient()
    batch = {"batch": [{"name": "a"}, {"name": "b", "event_id": "client-id"}, {"name": "c"}]}

    def post(request_id: str) -> list[str]:
        """The ids of the events this request appended, in batch order."""
        before = appended()
        response = client.post(
            "/api/v1/events",
            batch,
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {project_keys['write_key']}",
            HTTP_X_REQUEST_ID=request_id,
        )
        assert response.status_code == 202, response.content
        added = [r["event_id"] for key, r in appended().items() if key not in before]
        assert sorted(added) == sorted(response.json()["event_ids"])
        return response.json()["event_ids"]

    first = post("lb-1")
    retry = post("lb-1")  # the balancer's retry on another instance
    other = post("lb-2")
    assert first == retry
    assert first[1] == other[1] == "client-id"
    assert not {first[0], first[2]} & {other[0], other[2]}


@pytest.mark.integration
@pytest.mark.django_db
def test_a_keen_batch_of_several_collections_gets_one_id_per_event(
    services_up: None, project_keys: dict[str, str], private_queue: str, settings: Settings
) -> None:
    """The ids run across the whole request: each collection's first event once got
    the same derived id, so dedupe would have kept only one of them."""
    settings.EVENT_ID_REQUEST_HEADER = "X-Request-Id"
    client = APIClient()
    pid = project_keys["project_id"]
    body = {"purchases": [{"price": 1}, {"price": 2}], "signups": [{"plan": "pro"}]}

    def post(request_id: str) -> dict[str, str]:
        """This request's appended events: event id -> collection."""
        before = appended()
        response = client.post(
            f"/3.0/projects/{pid}/events",
            body,
            format="json",
            HTTP_AUTHORIZATION=project_keys["write_key"],
            HTTP_X_REQUEST_ID=request_id,
        )
        assert response.status_code == 200, response.content
        return {r["event_id"]: r["name"] for key, r in appended().items() if key not in before}

    first = post("lb-keen-1")
    assert sorted(first.values()) == ["purchases", "purchases", "signups"]
    assert post("lb-keen-1") == first  # the balancer's retry: the same ids
