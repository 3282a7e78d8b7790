"""Bounded work per request (issue 12, part 5): unique-value sets have a ceiling, queries
have a per-key rate limit, failed key authentications are throttled per client address
on every door, and admin logins lock out after repeated failures."""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import uuid
from typing import Any

import pytest
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from events.throttling import client_address, reset_auth_failures

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "cassandra"]),
]

DAY0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
NAME = "visit"
TIMEFRAME = {"start": "2026-03-02T00:00:00+00:00", "end": "2026-03-05T00:00:00+00:00"}


# --- count_unique / select_unique: at most QUERY_MAX_UNIQUE_IDS distinct values --------


@pytest.fixture
def twelve_users(spark, topic_prefix, project_keys):
    """Three days, four different users a day (two events each): 12 users in all."""
    from insights.aggregation import run_aggregation
    from tests.insights.test_aggregation import produce

    rng = random.Random(5)
    events = []
    for day in range(3):
        for user in range(4 * day, 4 * day + 4):
            for _ in range(2):
                events.append(
                    {
                        "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                        "name": NAME,
                        "category": "web",
                        "distinct_id": f"user-{user}",
                        "timestamp": DAY0 + dt.timedelta(days=day, seconds=rng.randint(0, 86399)),
                        "properties": {"plan": "pro"},
                    }
                )
    produce(topic_prefix, events, project_keys["project_id"])
    assert run_aggregation().events_written == len(events) == 24
    return project_keys


def _query(keys: dict, analysis: str, **params):
    body = {"event_collection": NAME, "timeframe": TIMEFRAME, "max_age": 0, **params}
    return APIClient().post(
        f"/api/v1/insights/{analysis}",
        body,
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {keys['read_key']}",
    )


PLAN_FILTER = [{"property_name": "plan", "operator": "eq", "property_value": "pro"}]


@pytest.mark.parametrize(
    ("analysis", "extra"),
    [
        ("count_unique", {}),  # the rollups: union of each day's bucket_users
        ("count_unique", {"filters": PLAN_FILTER}),  # a filter: the raw-event scan
        ("select_unique", {}),  # always the raw-event scan
    ],
    ids=["rollups", "raw-scan", "select-unique"],
)
def test_unique_values_beyond_the_limit_answer_400_naming_it(
    twelve_users, settings, analysis, extra
) -> None:
    settings.QUERY_MAX_UNIQUE_IDS = 5
    response = _query(twelve_users, analysis, target_property="distinct_id", **extra)
    assert response.status_code == 400, response.content
    message = response.json()["error"]["message"]
    assert message.startswith("timeframe:"), message
    assert "more than 5 distinct" in message
    assert "QUERY_MAX_UNIQUE_IDS" in message
    assert "narrow the timeframe or add an interval" in message

    settings.QUERY_MAX_UNIQUE_IDS = 12  # exactly at the limit: the exact answer
    response = _query(twelve_users, analysis, target_property="distinct_id", **extra)
    assert response.status_code == 200, response.content
    users = [f"user-{n}" for n in range(12)]
    expected = 12 if analysis == "count_unique" else sorted(users, key=json.dumps)
    assert response.json()["result"] == expected


def test_an_interval_keeps_each_bucket_under_the_limit(twelve_users, settings) -> None:
    """The advice in the 400 works: daily buckets hold 4 users each, under a limit of 5."""
    settings.QUERY_MAX_UNIQUE_IDS = 5
    for extra in ({}, {"filters": PLAN_FILTER}):
        response = _query(
            twelve_users, "count_unique", target_property="distinct_id", interval="daily", **extra
        )
        assert response.status_code == 200, response.content
        assert [point["value"] for point in response.json()["result"]] == [4, 4, 4]


# --- Queries: a per-key rate limit, counted apart from writes ---------------------------


def test_queries_are_rate_limited_per_key_apart_from_writes(project_keys, settings) -> None:
    settings.QUERY_RATE_LIMIT = (3, 3600)  # fixed windows: an hour makes a boundary unlikely
    settings.INGEST_RATE_LIMIT = (100, 60)
    client = APIClient()
    master = project_keys["master_key"]
    params = {"event_collection": "x", "timeframe": "this_1_days"}

    def native(key: str):
        return client.get("/api/v1/insights/count", params, HTTP_AUTHORIZATION=f"Bearer {key}")

    def keen(key: str):
        return client.get(
            f"/3.0/projects/{project_keys['project_id']}/queries/count",
            params,
            HTTP_AUTHORIZATION=key,
        )

    assert [native(master).status_code for _ in range(2)] == [200, 200]
    assert keen(master).status_code == 200  # both query APIs share the key's count
    throttled = native(master)
    assert throttled.status_code == 429
    assert 1 <= int(throttled["Retry-After"]) <= 3600
    assert "3 requests per 3600s" in throttled.json()["error"]["message"]
    keen_throttled = keen(master)
    assert keen_throttled.status_code == 429
    assert keen_throttled.json()["error_code"] == "RateLimitExceededError"
    assert keen_throttled.has_header("Retry-After")

    # Another key of the same project has its own count; writes are counted apart.
    assert native(project_keys["read_key"]).status_code == 200
    write = client.post(
        "/api/v1/events", {"name": "a"}, format="json", HTTP_AUTHORIZATION=f"Bearer {master}"
    )
    assert write.status_code == 202, write.content


# --- Failed authentication: throttled per client address, on every door --------------


@pytest.fixture
def address():
    """A fresh documentation address (TEST-NET-3) per test, as the WSGI REMOTE_ADDR only
    (no traffic goes anywhere); its counters are dropped afterwards."""
    used: list[str] = []

    def make() -> str:
        fresh = sorted(set(range(1, 255)) - {int(a.rsplit(".", 1)[1]) for a in used})
        used.append(f"203.0.113.{random.choice(fresh)}")
        return used[-1]

    yield make
    for value in used:
        reset_auth_failures(value)


def _doors(keys: dict) -> dict:
    """Each way in, as a function of (key, address) -> status code, plus a valid key."""
    client = APIClient()
    project = keys["project_id"]
    this_day = {"timeframe": "this_1_days"}

    def native(key, address, **extra):
        return client.post(
            "/api/v1/events",
            {"name": "a"},
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
            REMOTE_ADDR=address,
            **extra,
        )

    def segment(key, address, **extra):
        basic = base64.b64encode(f"{key}:".encode()).decode()
        return client.post(
            "/v1/track",
            {"event": "a", "userId": "u"},
            format="json",
            HTTP_AUTHORIZATION=f"Basic {basic}",
            REMOTE_ADDR=address,
            **extra,
        )

    def keen(key, address, **extra):
        return client.post(
            f"/3.0/projects/{project}/events/visits",
            {"a": 1},
            format="json",
            HTTP_AUTHORIZATION=key,
            REMOTE_ADDR=address,
            **extra,
        )

    def native_query(key, address, **extra):
        return client.get(
            "/api/v1/insights/count",
            {"event_collection": "x", **this_day},
            HTTP_AUTHORIZATION=f"Bearer {key}",
            REMOTE_ADDR=address,
            **extra,
        )

    def keen_query(key, address, **extra):
        return client.get(
            f"/3.0/projects/{project}/queries/count",
            {"event_collection": "x", "api_key": key, **this_day},
            REMOTE_ADDR=address,
            **extra,
        )

    return {
        "native": (native, keys["write_key"], 202),
        "segment": (segment, keys["write_key"], 200),
        "keen": (keen, keys["write_key"], 201),
        "native-query": (native_query, keys["read_key"], 200),
        "keen-query": (keen_query, keys["read_key"], 200),
    }


@pytest.mark.parametrize("door", ["native", "segment", "keen", "native-query", "keen-query"])
def test_failed_authentications_are_throttled_per_address(
    project_keys, settings, address, door
) -> None:
    settings.AUTH_FAILURE_RATE_LIMIT = (5, 60)
    call, valid_key, ok = _doors(project_keys)[door]
    attacker, neighbour = address(), address()

    bad = [call(f"bad-key-{n}", attacker).status_code for n in range(5)]
    assert bad == [401] * 5
    refused = call("bad-key-5", attacker)
    assert refused.status_code == 429, refused.content
    assert 1 <= int(refused["Retry-After"]) <= 60
    body = refused.json()
    message = body["message"] if "message" in body else body["error"]["message"]
    assert "failed authentications" in message
    assert "5 per 60s" in message
    # While locked out, even a valid key from that address is refused (a correct guess
    # is not revealed); other addresses are unaffected.
    assert call(valid_key, attacker).status_code == 429
    assert call(valid_key, neighbour).status_code == ok
    assert call("bad-key", neighbour).status_code == 401


def test_a_locked_out_address_learns_nothing_from_a_bad_request(
    project_keys, settings, address
) -> None:
    """The ingestion doors check the lockout with the append, so every answer they would
    give before it (400 bad body, 403 wrong kind or project, 413) is a 429 for a
    locked-out address: a valid key is not told apart from a bad one."""
    settings.AUTH_FAILURE_RATE_LIMIT = (3, 60)
    client = APIClient()
    attacker, neighbour = address(), address()
    write, read = project_keys["write_key"], project_keys["read_key"]

    def post(key: str, body: object, source: str, path: str = "/api/v1/events"):
        return client.generic(
            "POST",
            path,
            json.dumps(body),
            "application/json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
            REMOTE_ADDR=source,
        )

    too_many = {"batch": [{"name": "a"}] * (settings.EVENT_LIMITS["max_batch_events"] + 1)}
    requests = [
        (write, [], 400),  # not an event or a batch
        (read, {"name": "a"}, 403),  # a read key on a write door
        (write, too_many, 413),
    ]
    for key, body, status in requests:  # what the neighbour, not locked out, gets
        assert post(key, body, neighbour).status_code == status
    for n in range(3):
        assert post(f"bad-{n}", {"name": "a"}, attacker).status_code == 401
    for key, body, _ in requests:
        answer = post(key, body, attacker)
        assert answer.status_code == 429, (body, answer.content)
        assert "failed authentications" in answer.json()["error"]["message"]
    assert post(write, {"name": "a"}, attacker).status_code == 429


def test_the_default_limit_is_twenty_failures_a_minute(project_keys) -> None:
    """The shipped default (AUTH_FAILURE_RATE_LIMIT=20/m), from the test client's own
    address: 20 bad keys get 401, the 21st gets 429."""
    from django.conf import settings

    assert settings.AUTH_FAILURE_RATE_LIMIT == (20, 60)
    client = APIClient()
    codes = [
        client.post(
            "/api/v1/events", {"name": "a"}, format="json", HTTP_AUTHORIZATION=f"Bearer bad-{n}"
        ).status_code
        for n in range(21)
    ]
    assert codes == [401] * 20 + [429]


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(
    project_keys, settings, address
) -> None:
    settings.AUTH_FAILURE_RATE_LIMIT = (3, 60)
    call, _, _ = _doors(project_keys)["native"]
    proxy, client_a, client_b = address(), address(), address()

    # No trusted proxy: X-Forwarded-For is the client's own claim and is ignored, so
    # varying it does not escape the limit.
    codes = [
        call("bad", proxy, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(4)
    ]
    assert codes == [401, 401, 401, 429]

    # Behind a trusted proxy, the hop it recorded is the client: one client's failures
    # do not lock out another behind the same proxy, and what the client put in the
    # header before the proxy's hop is not believed.
    settings.TRUSTED_PROXIES = [client_b, "127.0.0.0/8"]
    codes = [
        call("bad", client_b, HTTP_X_FORWARDED_FOR=f"9.9.9.{n}, {client_a}").status_code
        for n in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    assert call("bad", client_b, HTTP_X_FORWARDED_FOR="198.51.100.77").status_code == 401


def test_client_address_reads_forwarded_for_right_to_left(settings) -> None:
    factory = RequestFactory()

    def seen(remote: str, forwarded: str | None = None) -> str:
        extra: dict[str, Any] = {}
        if forwarded is not None:
            extra["HTTP_X_FORWARDED_FOR"] = forwarded
        return client_address(factory.get("/", REMOTE_ADDR=remote, **extra))

    settings.TRUSTED_PROXIES = []
    assert seen("192.0.2.1", "198.51.100.9") == "192.0.2.1"
    settings.TRUSTED_PROXIES = ["10.1.0.0/16", "192.0.2.1"]
    assert seen("192.0.2.1", "198.51.100.9") == "198.51.100.9"
    assert seen("192.0.2.1", "6.6.6.6, 198.51.100.9, 10.1.2.3") == "198.51.100.9"
    assert seen("192.0.2.1", "garbage, 10.1.2.3") == "10.1.2.3"
    assert seen("192.0.2.1") == "192.0.2.1"
    assert seen("198.51.100.5", "10.1.2.3") == "198.51.100.5"  # not a proxy of ours


# --- Admin logins: django-axes locks out after repeated failures -----------------------


def test_admin_logins_lock_out_after_repeated_failures(django_user_model, settings) -> None:
    django_user_model.objects.create_user("staff", password="pw-staff-1", is_staff=True)
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 5  # the shipped default
    client = Client()
    for _ in range(limit - 1):
        page = client.post("/admin/login/", {"username": "staff", "password": "wrong"})
        assert page.status_code == 200  # the form again, with its error
    locked = client.post("/admin/login/", {"username": "staff", "password": "wrong"})
    assert locked.status_code == 429

    # Now even the right password is refused, and no session is made.
    right = client.post("/admin/login/", {"username": "staff", "password": "pw-staff-1"})
    assert right.status_code == 429
    assert client.get("/admin/").status_code == 302

    from axes.utils import reset

    reset(username="staff")
    client.post("/admin/login/", {"username": "staff", "password": "pw-staff-1"})
    assert client.get("/admin/").status_code == 200
