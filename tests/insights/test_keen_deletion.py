"""Keen's ``delete_events`` through the unmodified ``keen`` 0.7.0 client against a live
server: after the deletion, every analysis (count, count_unique, sum, minimum,
maximum, median, funnel; from rollups and from raw events) equals an independent
computation over the events that remain."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import uuid
from decimal import Decimal

import pytest
import requests

from insights.aggregation import run_aggregation
from insights.models import Deletion
from tests.insights.known_answer import expected_rollups, stored_rollups
from tests.insights.test_deletions import aggregation_queue, produce  # noqa: F401  (fixture)
from tests.insights.test_keen_extraction import client_for, frame

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "cassandra"], transaction=True),
]

DAY0 = dt.datetime(2026, 9, 28, tzinfo=dt.UTC)
WHOLE = frame(DAY0, DAY0 + dt.timedelta(days=6))
PRO = [{"property_name": "plan", "operator": "eq", "property_value": "pro"}]


@pytest.fixture
def shop(spark, topic_prefix, project_keys, aggregation_queue):  # noqa: F811
    """Signups and purchases of 25 users over 6 days, aggregated; (keys, events)."""
    rng = random.Random(1818)
    events = []
    for _ in range(300):
        events.append(
            {
                "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "name": rng.choice(["signup", "purchase", "purchase"]),
                "category": rng.choice(["web", "server"]),
                "distinct_id": f"user-{rng.randint(1, 25)}",
                "timestamp": DAY0 + dt.timedelta(seconds=rng.randint(0, 6 * 86400 - 1)),
                "properties": {"plan": rng.choice(["free", "pro"]), "amount": rng.randint(1, 900)},
            }
        )
    produce(topic_prefix, events, project_keys["project_id"])
    assert run_aggregation().events_written == 300
    return project_keys, events


def amounts(events: list[dict], name: str) -> list[Decimal]:
    return [Decimal(e["properties"]["amount"]) for e in events if e["name"] == name]


def funnel(events: list[dict]) -> list[int]:
    first_signup: dict[str, dt.datetime] = {}
    for e in events:
        if e["name"] == "signup":
            user = e["distinct_id"]
            first_signup[user] = min(first_signup.get(user, e["timestamp"]), e["timestamp"])
    bought = {
        e["distinct_id"]
        for e in events
        if e["name"] == "purchase"
        and e["distinct_id"] in first_signup
        and e["timestamp"] >= first_signup[e["distinct_id"]]
    }
    return [len(first_signup), len(bought)]


def assert_answers(client, events: list[dict]) -> None:
    purchases = [e for e in events if e["name"] == "purchase"]
    assert client.count("purchase", timeframe=WHOLE) == len(purchases)
    assert client.count_unique("purchase", target_property="distinct_id", timeframe=WHOLE) == len(
        {e["distinct_id"] for e in purchases}
    )
    assert client.sum("purchase", target_property="amount", timeframe=WHOLE) == sum(
        amounts(events, "purchase")
    )
    assert client.minimum("purchase", target_property="amount", timeframe=WHOLE) == min(
        amounts(events, "purchase")
    )
    assert client.maximum("purchase", target_property="amount", timeframe=WHOLE) == max(
        amounts(events, "purchase")
    )
    assert Decimal(
        str(client.median("purchase", target_property="amount", timeframe=WHOLE))
    ) == statistics.median(amounts(events, "purchase"))
    assert client.average("purchase", target_property="amount", timeframe=WHOLE) == pytest.approx(
        float(statistics.mean(amounts(events, "purchase"))), rel=1e-12
    )
    assert sorted(client.select_unique("purchase", target_property="plan", timeframe=WHOLE)) == (
        sorted({e["properties"]["plan"] for e in purchases})
    )
    analyses = {
        "total": {"analysis_type": "count"},
        "users": {"analysis_type": "count_unique", "target_property": "distinct_id"},
    }
    assert client.multi_analysis("purchase", analyses=analyses, timeframe=WHOLE) == {
        "total": len(purchases),
        "users": len({e["distinct_id"] for e in purchases}),
    }
    daily = client.count("purchase", timeframe=WHOLE, interval="daily")
    assert [day["value"] for day in daily] == [
        sum(
            DAY0 + dt.timedelta(days=n) <= e["timestamp"] < DAY0 + dt.timedelta(days=n + 1)
            for e in purchases
        )
        for n in range(6)
    ]
    steps = [
        {"event_collection": "signup", "actor_property": "distinct_id", "timeframe": WHOLE},
        {"event_collection": "purchase", "actor_property": "distinct_id", "timeframe": WHOLE},
    ]
    assert client.funnel(steps) == funnel(events)


def test_delete_events_through_the_keen_client(shop, live_server) -> None:
    keys, events = shop
    client = client_for(keys, live_server.url)
    assert_answers(client, events)
    start, end = DAY0 + dt.timedelta(days=1, hours=5), DAY0 + dt.timedelta(days=4)

    assert client.delete_events("purchase", timeframe=frame(start, end), filters=PRO) is True
    deletion = Deletion.objects.get(project_id=keys["project_id"])
    assert (deletion.kind, deletion.name, deletion.filters) == ("events", "purchase", PRO)
    run_aggregation()

    def deleted(e: dict) -> bool:
        return (
            e["name"] == "purchase"
            and start <= e["timestamp"] < end
            and e["properties"]["plan"] == "pro"
        )

    remaining = [e for e in events if not deleted(e)]
    assert len(events) - len(remaining) > 20
    deletion.refresh_from_db()
    assert (deletion.status, deletion.events_deleted) == ("succeeded", len(events) - len(remaining))
    assert stored_rollups(keys["project_id"]) == expected_rollups(remaining)
    assert_answers(client, remaining)
    # an extraction (raw events) sees the same
    extracted = client.extraction("purchase", timeframe=WHOLE)
    assert sorted(e["keen"]["id"] for e in extracted) == sorted(
        e["event_id"] for e in remaining if e["name"] == "purchase"
    )


def test_delete_events_refuses_other_keys_and_bad_timeframes(shop, live_server) -> None:
    from keen.exceptions import KeenApiError

    keys, _ = shop
    url = f"{live_server.url}/3.0/projects/{keys['project_id']}/events/purchase"
    for key in (keys["read_key"], keys["write_key"]):
        refused = requests.delete(
            url, params={"timeframe": "this_2_days"}, headers={"Authorization": key}, timeout=30
        )
        assert refused.status_code in (401, 403)
        assert set(refused.json()) >= {"message", "error_code"}
    client = client_for(keys, live_server.url)
    with pytest.raises(KeenApiError, match="timeframe"):
        client.delete_events("purchase")  # Keen's client sends no timeframe: we need one
    with pytest.raises(KeenApiError, match="DELETION_MAX_DAYS"):
        client.delete_events("purchase", timeframe=frame(DAY0 - dt.timedelta(days=4000), DAY0))
    with pytest.raises(KeenApiError, match="filters"):
        client.delete_events("purchase", timeframe=WHOLE, filters="{not json")
    assert not Deletion.objects.exists()
