"""Security: project isolation on every endpoint for every key kind, keys stored hashed,
a staff-only admin with CSRF, and rate limits per key."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from events.keys import generate_key, hash_key
from events.models import ApiKey

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "cassandra"]),
]

KINDS = ("write_key", "read_key", "master_key")


@pytest.fixture
def other_project(db) -> dict[str, str]:
    from events.services import create_project_with_keys

    project, keys = create_project_with_keys(name="other")
    return {"project_id": project.id, **{f"{kind}_key": key for kind, key in keys.items()}}


def _keen_paths(project_id: str) -> list[tuple[str, str, object]]:
    return [
        ("POST", f"/3.0/projects/{project_id}/events/pageviews", {"a": 1}),
        ("POST", f"/3.0/projects/{project_id}/events", {"pageviews": [{"a": 1}]}),
        ("GET", f"/3.0/projects/{project_id}/queries/count?event_collection=x", None),
        ("POST", f"/3.0/projects/{project_id}/queries/count", {"event_collection": "x"}),
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_a_key_never_reaches_another_projects_paths(project_keys, other_project, kind) -> None:
    """Every Keen path names a project: A's keys of every kind get 403/404 on B's."""
    client = APIClient()
    for method, path, body in _keen_paths(other_project["project_id"]):
        response = client.generic(
            method, path, "" if body is None else json.dumps(body),
            "application/json", HTTP_AUTHORIZATION=project_keys[kind],
        )  # fmt: skip
        assert response.status_code in (403, 404), (method, path, response.status_code)


@pytest.mark.parametrize("kind", KINDS)
def test_query_answers_only_ever_see_the_keys_project(project_keys, other_project, kind) -> None:
    """The native endpoints take the project from the key: a query with B's project id
    in any parameter still reads A's data (or is refused for a write key)."""
    client = APIClient()
    response = client.get(
        "/api/v1/insights/count",
        {"event_collection": "x", "timeframe": "this_1_days",
         "project_id": other_project["project_id"]},
        HTTP_AUTHORIZATION=f"Bearer {project_keys[kind]}",
    )  # fmt: skip
    if kind == "write_key":
        assert response.status_code == 403
    else:
        assert response.status_code == 200, response.content
        assert response.json()["result"] == 0


def test_key_kinds_are_enforced(project_keys) -> None:
    client = APIClient()
    read = project_keys["read_key"]
    write = project_keys["write_key"]
    basic = base64.b64encode(f"{read}:".encode()).decode()
    assert (
        client.post("/api/v1/events", {"name": "a"}, format="json",
                    HTTP_AUTHORIZATION=f"Bearer {read}").status_code == 403
    )  # fmt: skip
    assert (
        client.post("/v1/track", {"event": "a", "userId": "u"}, format="json",
                    HTTP_AUTHORIZATION=f"Basic {basic}").status_code == 403
    )  # fmt: skip
    assert (
        client.get("/api/v1/insights/count", {"event_collection": "a"},
                   HTTP_AUTHORIZATION=f"Bearer {write}").status_code == 403
    )  # fmt: skip


def test_revoked_and_unknown_keys_get_401(project_keys) -> None:
    from django.utils import timezone

    ApiKey.objects.filter(key_hash=hash_key(project_keys["write_key"])).update(
        revoked_at=timezone.now()
    )
    client = APIClient()
    for key in (project_keys["write_key"], generate_key("write")):
        response = client.post(
            "/api/v1/events", {"name": "a"}, format="json", HTTP_AUTHORIZATION=f"Bearer {key}"
        )
        assert response.status_code == 401


def test_keys_are_stored_only_as_hashes(project_keys) -> None:
    rows = list(ApiKey.objects.filter(project_id=project_keys["project_id"]).values())
    assert len(rows) == 3
    stored = repr(rows)
    for kind in KINDS:
        assert project_keys[kind] not in stored
        assert hash_key(project_keys[kind]) in stored


def test_the_admin_needs_a_staff_login_with_csrf(django_user_model) -> None:
    django_user_model.objects.create_user("staff", password="pw-staff-1", is_staff=True)
    django_user_model.objects.create_user("plain", password="pw-plain-1", is_staff=False)
    anonymous = Client()
    response = anonymous.get("/admin/movingavg/metricdefinition/browse/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]

    strict = Client(enforce_csrf_checks=True)
    forged = strict.post("/admin/login/", {"username": "staff", "password": "pw-staff-1"})
    assert forged.status_code == 403  # no CSRF token: refused before any login

    for user, password, allowed in (("plain", "pw-plain-1", False), ("staff", "pw-staff-1", True)):
        client = Client(enforce_csrf_checks=True)
        page = client.get("/admin/login/")
        token = page.cookies["csrftoken"].value
        client.post(
            "/admin/login/",
            {"username": user, "password": password, "csrfmiddlewaretoken": token},
        )
        assert (client.get("/admin/").status_code == 200) is allowed, user


def test_rate_limits_are_per_key(project_keys, settings, private_queue) -> None:
    settings.INGEST_RATE_LIMIT = (2, 60)
    second_key = generate_key("write")
    ApiKey.objects.create(
        project_id=project_keys["project_id"], kind="write", prefix=second_key[:10],
        key_hash=hash_key(second_key),
    )  # fmt: skip
    client = APIClient()

    def post(key: str) -> int:
        return client.post(
            "/api/v1/events", {"name": "a"}, format="json", HTTP_AUTHORIZATION=f"Bearer {key}"
        ).status_code

    first = project_keys["write_key"]
    assert [post(first), post(first), post(first)] == [202, 202, 429]
    assert [post(second_key), post(second_key), post(second_key)] == [202, 202, 429]
