"""Raw-event retention against the real services: the TTL written with each event takes
effect (a short one here), rollups are kept, queries that need raw events from before
the retention answer a 400 that says so, and a retention change rewrites what is stored."""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid

import pytest
from django.db import connections
from keen.exceptions import KeenApiError

from events.models import Project
from insights.aggregation import run_aggregation
from insights.retention import apply_retention
from tests.insights.known_answer import expected_rollups, stored_event_ids, stored_rollups
from tests.insights.test_deletions import (  # noqa: F401  (fixture)
    aggregation_queue,
    master_client,
    produce,
)
from tests.insights.test_keen_extraction import client_for, frame

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "cassandra"], transaction=True),
]

PRO = [{"property_name": "plan", "operator": "eq", "property_value": "pro"}]


def event(when: dt.datetime, rng: random.Random) -> dict:
    return {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "name": "view",
        "category": "web",
        "distinct_id": f"user-{rng.randint(1, 5)}",
        "timestamp": when,
        "properties": {"plan": rng.choice(["free", "pro"]), "ms": rng.randint(1, 99)},
    }


def ttls(project_id: str) -> dict[str, int | None]:
    session = connections["cassandra"].connection.session
    keyspace = connections["cassandra"].settings_dict["NAME"]
    rows = session.execute(
        f"SELECT event_id, TTL(properties) AS ttl FROM {keyspace}.raw_events "
        "WHERE project_id = %s ALLOW FILTERING",
        (project_id,),
    )
    return {row["event_id"]: row["ttl"] for row in rows}


@pytest.mark.parametrize("driver_read_max_records", [20_000, 0], ids=["driver", "spark"])
def test_raw_events_expire_with_the_retention_and_rollups_stay(
    spark,
    topic_prefix,
    project_keys,
    aggregation_queue,  # noqa: F811
    live_server,
    settings,
    driver_read_max_records,
) -> None:
    settings.AGGREGATION_DRIVER_READ_MAX_RECORDS = driver_read_max_records
    project_id = project_keys["project_id"]
    api = master_client(project_keys)
    answer = api.put("/api/v1/retention", {"raw_events_days": 1}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"raw_events_days": 1, "rollups_days": None}
    rng = random.Random(20)
    now = dt.datetime.now(dt.UTC)
    day = dt.timedelta(days=1)
    soon_gone = [event(now - day + dt.timedelta(seconds=45), rng) for _ in range(8)]
    recent = [event(now - dt.timedelta(hours=rng.randint(1, 20)), rng) for _ in range(30)]
    too_old = [event(now - 3 * day, rng) for _ in range(5)]  # beyond it on arrival
    everything = soon_gone + recent + too_old
    produce(topic_prefix, everything, project_id)
    assert run_aggregation().events_written == len(everything)

    lives = ttls(project_id)
    assert set(lives) == {e["event_id"] for e in soon_gone + recent}  # too_old: not stored raw
    assert all(0 < (lives[e["event_id"]] or 0) <= 45 for e in soon_gone)
    for e in recent:  # a day less the event's age, from its timestamp
        age = (now - e["timestamp"]).total_seconds()
        assert abs(lives[e["event_id"]] - (86_400 - age)) < 120
    assert stored_rollups(project_id) == expected_rollups(everything)

    deadline = time.monotonic() + 60
    while set(stored_event_ids(project_id)) != {e["event_id"] for e in recent}:
        assert time.monotonic() < deadline, "the short TTL did not take effect"
        time.sleep(1)
    assert stored_rollups(project_id) == expected_rollups(everything)  # rollups are kept

    client = client_for(project_keys, live_server.url)
    hour = now.replace(minute=0, second=0, microsecond=0)
    whole = frame(hour - 4 * day, hour + dt.timedelta(hours=1))
    assert client.count("view", timeframe=whole) == len(everything)  # rollups answer
    with pytest.raises(KeenApiError, match="keeps raw events 1 days"):
        client.count("view", timeframe=whole, filters=PRO)  # raw events needed, gone
    last_hours = frame(now - dt.timedelta(hours=22), now + dt.timedelta(minutes=1))
    assert client.count("view", timeframe=last_hours, filters=PRO) == sum(
        e["properties"]["plan"] == "pro"
        for e in recent
        if e["timestamp"] >= now - dt.timedelta(hours=22)
    )


def test_a_retention_change_rewrites_what_is_stored(
    spark,
    topic_prefix,
    project_keys,
    aggregation_queue,  # noqa: F811
) -> None:
    project_id = project_keys["project_id"]
    rng = random.Random(21)
    now = dt.datetime.now(dt.UTC)
    ages = [dt.timedelta(days=d, hours=rng.randint(0, 20)) for d in (1, 3, 5, 8, 12)]
    events = [event(now - age, rng) for age in ages for _ in range(4)]
    produce(topic_prefix, events, project_id)
    assert run_aggregation().events_written == len(events)
    assert set(ttls(project_id).values()) == {None}  # no retention: kept forever

    api = master_client(project_keys)
    assert api.put("/api/v1/retention", {"raw_events_days": 6}, format="json").status_code == 200
    assert Project.objects.get(pk=project_id).raw_retention_days == 6
    apply_retention(project_id)  # what the queued task runs
    within = [e for e in events if now - e["timestamp"] < dt.timedelta(days=6)]
    lives = ttls(project_id)
    assert set(lives) == {e["event_id"] for e in within}
    for e in within:
        age = (now - e["timestamp"]).total_seconds()
        assert abs(lives[e["event_id"]] - (6 * 86_400 - age)) < 300
    assert stored_rollups(project_id) == expected_rollups(events)

    assert api.put("/api/v1/retention", {"raw_events_days": None}, format="json").status_code == 200
    apply_retention(project_id)
    assert ttls(project_id) == dict.fromkeys((e["event_id"] for e in within), None)
    bad = api.put("/api/v1/retention", {"raw_events_days": 0}, format="json")
    assert bad.status_code == 400
    assert "raw_events_days" in bad.content.decode()
