"""Rollup retention against the real services: a purge removes exactly the buckets that
ended before the cutoff (every metric, category and granularity, and their bucket
users), keeps every other row as it was, and queries reaching before the cutoff answer
a 400 naming ``rollup_retention_days`` while those after it answer exactly."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import connections
from keen.exceptions import KeenApiError

from insights.aggregation import run_aggregation
from insights.rollup_retention import purge
from tests.insights.known_answer import expected_rollups, stored_rollups
from tests.insights.test_deletions import (  # noqa: F401  (fixture)
    _queued_runs,
    aggregation_queue,
    master_client,
    produce,
)
from tests.insights.test_keen_extraction import client_for, frame
from tests.insights.test_retention import event

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "cassandra"], transaction=True),
]

LENGTH = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}


def _ends(bucket: dt.datetime, granularity: str) -> dt.datetime:
    if granularity == "month":
        return (bucket + dt.timedelta(days=32)).replace(day=1)
    return bucket + LENGTH[granularity]


def bucket_users(project_id: str) -> set[tuple]:
    session = connections["cassandra"].connection.session
    keyspace = connections["cassandra"].settings_dict["NAME"]
    rows = session.execute(
        f"SELECT name, granularity, bucket, category, distinct_id FROM {keyspace}.bucket_users "
        "WHERE project_id = %s ALLOW FILTERING",
        (project_id,),
    )
    return {tuple(row.values()) for row in rows}


def expected_users(events: list[dict]) -> set[tuple]:
    found = set()
    for e in events:
        when = e["timestamp"].astimezone(dt.UTC).replace(tzinfo=None)
        for granularity, bucket in (
            ("hour", when.replace(minute=0, second=0, microsecond=0)),
            ("day", when.replace(hour=0, minute=0, second=0, microsecond=0)),
        ):
            for category in (e["category"], "all"):
                found.add((e["name"], granularity, bucket, category, e["distinct_id"]))
    return found


def test_a_purge_removes_exactly_the_buckets_beyond_the_rollup_retention(
    spark,
    topic_prefix,
    project_keys,
    aggregation_queue,  # noqa: F811
    live_server,
) -> None:
    project_id = project_keys["project_id"]
    rng = random.Random(22)
    now = dt.datetime.now(dt.UTC)
    events = [
        {**event(now - dt.timedelta(hours=rng.randint(1, 70 * 24)), rng), "name": name}
        for name in ("view", "buy")
        for _ in range(150)
    ]
    produce(topic_prefix, events, project_id)
    assert run_aggregation().events_written == len(events)
    everything = expected_rollups(events)
    assert stored_rollups(project_id) == everything

    api = master_client(project_keys)
    answer = api.put("/api/v1/retention", {"rollups_days": 20}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"raw_events_days": None, "rollups_days": 20}
    assert _queued_runs(aggregation_queue) == 1  # the purge, queued for the worker

    at = dt.datetime.now(dt.UTC)
    purged = purge(project_id, now=at)  # what the queued task runs
    oldest = (at - dt.timedelta(days=20)).replace(tzinfo=None)
    kept = {k: v for k, v in everything.items() if _ends(k[4], k[2]) > oldest}
    assert 0 < len(kept) < len(everything)  # some of every kind go, some stay
    assert {k[2] for k in everything.keys() - kept.keys()} == {"hour", "day", "month"}
    assert stored_rollups(project_id) == kept
    assert purged.rollup_rows == len(everything) - len(kept)
    users = {u for u in expected_users(events) if u[2] + LENGTH[u[1]] > oldest}
    assert bucket_users(project_id) == users
    assert purge(project_id, now=at).rollup_rows == 0  # idempotent

    client = client_for(project_keys, live_server.url)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    recent = frame(today - dt.timedelta(days=10), today + dt.timedelta(days=1))
    in_recent = [
        e for e in events if e["name"] == "view" and e["timestamp"] >= today - dt.timedelta(days=10)
    ]
    assert client.count("view", timeframe=recent) == len(in_recent)
    assert client.count_unique("view", "distinct_id", timeframe=recent) == len(
        {e["distinct_id"] for e in in_recent}
    )
    assert client.sum("view", "ms", timeframe=recent) == sum(
        e["properties"]["ms"] for e in in_recent
    )
    old = frame(today - dt.timedelta(days=40), today + dt.timedelta(days=1))
    with pytest.raises(KeenApiError, match="rollup_retention_days"):
        client.count("view", timeframe=old)

    late = [{**event(now - dt.timedelta(days=50), rng), "name": "view"} for _ in range(3)]
    produce(topic_prefix, late, project_id)
    assert run_aggregation().events_written == 3  # counted into buckets refused to queries
    with pytest.raises(KeenApiError, match="rollup_retention_days"):
        client.count("view", timeframe=old)
    purge(project_id, now=at)
    # The next purge takes them again. A month that straddles the cutoff is derived again
    # from its remaining days by that run: queries refuse it (it starts before the cutoff).
    straddling = {k for k in kept if k[2] == "month" and k[4] < oldest}
    assert straddling
    stored = stored_rollups(project_id)
    assert stored.keys() == kept.keys()
    assert {k: v for k, v in stored.items() if k not in straddling} == {
        k: v for k, v in kept.items() if k not in straddling
    }
    assert bucket_users(project_id) == users
    first = max(k[4] for k in straddling)
    month = frame(first.replace(tzinfo=dt.UTC), _ends(first, "month").replace(tzinfo=dt.UTC))
    with pytest.raises(KeenApiError, match="rollup_retention_days"):
        client.count("view", timeframe=month, interval="monthly")
