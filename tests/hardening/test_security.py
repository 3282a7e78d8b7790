"""Security: project isolation on every endpoint for every key kind, keys stored hashed,
a staff-only admin with CSRF, and rate limits per key."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid

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
            method,
            path,
            "" if body is None else json.dumps(body),
            "application/json",
            HTTP_AUTHORIZATION=project_keys[kind],
        )
        assert response.status_code in (403, 404), (method, path, response.status_code)


DAY = dt.datetime(2026, 9, 29, tzinfo=dt.UTC)
FRAME = {"start": "2026-09-29T00:00:00Z", "end": "2026-09-30T00:00:00Z"}


def _event(name: str, user: str, hour: int, category: str = "web", **properties) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "name": name,
        "category": category,
        "distinct_id": user,
        "timestamp": DAY + dt.timedelta(hours=hour, minutes=5),
        "properties": properties,
    }


# Same event names, hours and property names in both projects, different numbers and users:
# any leak of one project's rows into the other's answer changes that answer.
SEEDS = {
    "a": [
        _event("signup", "alice", 1),
        _event("signup", "ann", 2),
        _event("purchase", "alice", 3, amount=10),
        _event("purchase", "alice", 3, amount=20),
        _event("purchase", "ann", 5, amount=30),
    ],
    "b": [
        _event("signup", "bob", 1),
        _event("signup", "ben", 1),
        _event("signup", "bea", 2),
        _event("purchase", "bob", 3, amount=100),
        _event("purchase", "bob", 4, amount=200),
        _event("purchase", "bea", 5, "mobile", amount=300),
        _event("purchase", "bea", 5, "mobile", amount=400),
        _event("purchase", "zed", 3, amount=500),  # no signup: not in the funnel
    ],
}


def _known_answers(events: list[dict]) -> dict[str, object]:
    """Each query's answer over ``events`` alone, computed in plain Python."""
    purchases = [e for e in events if e["name"] == "purchase"]
    hourly = [0] * 24
    for event in purchases:
        hourly[event["timestamp"].hour] += 1
    signed_up = {e["distinct_id"]: e["timestamp"] for e in events if e["name"] == "signup"}
    bought = {
        e["distinct_id"]
        for e in purchases
        if e["distinct_id"] in signed_up and e["timestamp"] >= signed_up[e["distinct_id"]]
    }
    by_category: dict[str, int] = {}
    for event in purchases:
        by_category[event["category"]] = by_category.get(event["category"], 0) + 1
    amounts = [e["properties"]["amount"] for e in purchases]
    return {
        "count": len(purchases),
        "hourly": hourly,
        "sum": sum(amounts),
        "filtered": sum(1 for a in amounts if a > 15),
        "group_by": [{"category": c, "result": n} for c, n in sorted(by_category.items())],
        "funnel": [len(signed_up), len(bought)],
        "multi": {"n": len(purchases), "total": sum(amounts)},
        "unique": sorted({e["distinct_id"] for e in purchases}),
    }


QUERIES: dict[str, tuple[str, dict]] = {
    # answered from the rollups
    "count": ("count", {"event_collection": "purchase"}),
    "hourly": ("count", {"event_collection": "purchase", "interval": "hourly"}),
    "sum": ("sum", {"event_collection": "purchase", "target_property": "amount"}),
    # answered by scanning raw events
    "filtered": (
        "count",
        {
            "event_collection": "purchase",
            "filters": json.dumps(
                [{"property_name": "amount", "operator": "gt", "property_value": 15}]
            ),
        },
    ),
    "group_by": ("count", {"event_collection": "purchase", "group_by": "category"}),
    "unique": ("select_unique", {"event_collection": "purchase", "target_property": "distinct_id"}),
    # compound
    "funnel": (
        "funnel",
        {
            "steps": json.dumps(
                [
                    {"event_collection": "signup", "actor_property": "distinct_id"},
                    {"event_collection": "purchase", "actor_property": "distinct_id"},
                ]
            )
        },
    ),
    "multi": (
        "multi_analysis",
        {
            "event_collection": "purchase",
            "analyses": json.dumps(
                {
                    "n": {"analysis_type": "count"},
                    "total": {"analysis_type": "sum", "target_property": "amount"},
                }
            ),
        },
    ),
}


def _result(query: str, body: dict) -> object:
    if query == "hourly":
        return [bucket["value"] for bucket in body["result"]]
    return body["result"]


@pytest.fixture
def two_projects(spark, topic_prefix, project_keys, other_project):
    """Projects A (``project_keys``) and B (``other_project``), each with its own events,
    produced to Kafka and aggregated together in one real run."""
    from insights.aggregation import run_aggregation
    from tests.insights.test_aggregation import produce

    produce(topic_prefix, SEEDS["a"], project_keys["project_id"])
    produce(topic_prefix, SEEDS["b"], other_project["project_id"])
    run = run_aggregation()
    assert run.events_written == len(SEEDS["a"]) + len(SEEDS["b"]), run
    return {"a": project_keys, "b": other_project}


def test_every_query_path_answers_with_the_keys_project_only(two_projects) -> None:
    """Rollups, raw scans, funnel, multi_analysis and select_unique, on the Keen and the
    native endpoints: A's read key gets exactly A's answers, B's exactly B's, and A's key
    on B's Keen URL is refused without B's numbers."""
    known = {side: _known_answers(SEEDS[side]) for side in ("a", "b")}
    assert all(known["a"][q] != known["b"][q] for q in QUERIES)  # a leak would show
    client = APIClient()
    for side in ("a", "b"):
        keys = two_projects[side]
        for query, (analysis, params) in QUERIES.items():
            params = {**params, "timeframe": json.dumps(FRAME)}
            keen = client.get(
                f"/3.0/projects/{keys['project_id']}/queries/{analysis}",
                params,
                HTTP_AUTHORIZATION=keys["read_key"],
            )
            assert keen.status_code == 200, (side, query, keen.content)
            assert _result(query, keen.json()) == known[side][query], (side, query, "keen")
            native = client.get(
                f"/api/v1/insights/{analysis}",
                params,
                HTTP_AUTHORIZATION=f"Bearer {keys['read_key']}",
            )
            assert native.status_code == 200, (side, query, native.content)
            assert _result(query, native.json()) == known[side][query], (side, query, "native")

    a, b = two_projects["a"], two_projects["b"]
    for query, (analysis, params) in QUERIES.items():
        params = {**params, "timeframe": json.dumps(FRAME)}
        for kind in KINDS:
            refused = client.get(
                f"/3.0/projects/{b['project_id']}/queries/{analysis}",
                params,
                HTTP_AUTHORIZATION=a[kind],
            )
            assert refused.status_code in (403, 404), (query, kind, refused.status_code)
            assert "result" not in refused.json(), (query, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_query_answers_only_ever_see_the_keys_project(two_projects, kind) -> None:
    """The native endpoints take the project from the key: a query with B's project id
    in any parameter still reads A's data (or is refused for a write key)."""
    a, b = two_projects["a"], two_projects["b"]
    response = APIClient().get(
        "/api/v1/insights/count",
        {
            "event_collection": "purchase",
            "timeframe": json.dumps(FRAME),
            "project_id": b["project_id"],
            "api_key": b["read_key"],
        },
        HTTP_AUTHORIZATION=f"Bearer {a[kind]}",
    )
    if kind == "write_key":
        assert response.status_code == 403
    else:
        assert response.status_code == 200, response.content
        assert response.json()["result"] == len([e for e in SEEDS["a"] if e["name"] == "purchase"])


def test_key_kinds_are_enforced(project_keys) -> None:
    client = APIClient()
    read = project_keys["read_key"]
    write = project_keys["write_key"]
    basic = base64.b64encode(f"{read}:".encode()).decode()
    assert (
        client.post(
            "/api/v1/events", {"name": "a"}, format="json", HTTP_AUTHORIZATION=f"Bearer {read}"
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/v1/track",
            {"event": "a", "userId": "u"},
            format="json",
            HTTP_AUTHORIZATION=f"Basic {basic}",
        ).status_code
        == 403
    )
    assert (
        client.get(
            "/api/v1/insights/count",
            {"event_collection": "a"},
            HTTP_AUTHORIZATION=f"Bearer {write}",
        ).status_code
        == 403
    )


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
        project_id=project_keys["project_id"],
        kind="write",
        prefix=second_key[:10],
        key_hash=hash_key(second_key),
    )
    client = APIClient()

    def post(key: str) -> int:
        return client.post(
            "/api/v1/events", {"name": "a"}, format="json", HTTP_AUTHORIZATION=f"Bearer {key}"
        ).status_code

    first = project_keys["write_key"]
    assert [post(first), post(first), post(first)] == [202, 202, 429]
    assert [post(second_key), post(second_key), post(second_key)] == [202, 202, 429]
