"""The admin's landing dashboard against the real services: every tile's number equals
the query API's answer (and an independent count), the charts hold the API's series."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from kafka import KafkaConsumer, TopicPartition

from events.topics import dlq_topic
from insights.models import EventCollection
from tests.insights.test_aggregation import produce
from tests.insights.test_queries import keen
from tests.movingavg.recent_data import INVALID, NAMES, recent_dataset  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "cassandra"])]
DASHBOARD = "/admin/movingavg/metricdefinition/dashboard/"
EXPLORER = "/admin/movingavg/metricdefinition/events/"


def tile(html: str, tile_id: str) -> str:
    """The raw ``data-value`` of a tile's big number."""
    found = re.search(rf'id="{tile_id}".*?class="number" data-value="([^"]*)"', html, re.S)
    assert found is not None, tile_id
    return found.group(1)


def chart_data(html: str, data_id: str) -> dict:
    found = re.search(rf'<script id="{data_id}" type="application/json">(.*?)</script>', html)
    assert found is not None, data_id
    return json.loads(found.group(1))


def dlq_records() -> int:
    """The records the DLQ topic holds, counted by a consumer of the test's own."""
    consumer = KafkaConsumer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    try:
        numbers = consumer.partitions_for_topic(dlq_topic()) or set()
        partitions = [TopicPartition(dlq_topic(), n) for n in numbers]
        ends, starts = consumer.end_offsets(partitions), consumer.beginning_offsets(partitions)
        return sum(ends[tp] - starts[tp] for tp in partitions)
    finally:
        consumer.close()


def test_every_tile_equals_the_api(recent_dataset, topic_prefix) -> None:  # noqa: F811
    keys, events = recent_dataset
    api = Client()
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("admin", "a@example.com", "pw"))

    assert set(
        EventCollection.objects.filter(project_id=keys["project_id"]).values_list("name", flat=True)
    ) == set(NAMES)

    index = staff.get("/admin/")
    assert 'id="dashboard-link"' in index.text
    assert DASHBOARD in index.text

    page = staff.get(DASHBOARD, {"project": keys["project_id"], "timezone": "Europe/Paris"})
    assert page.status_code == 200
    html = page.text

    def answer(analysis: str, timeframe: str, name: str, **extra: str) -> object:
        params = {"event_collection": name, "timeframe": timeframe, "timezone": "Europe/Paris"}
        response = keen(api, keys, analysis, **params, **extra)
        assert response.status_code == 200, response.content
        return response.json()["result"]

    for tile_id, timeframe in (
        ("tile-events-24h", "this_24_hours"),
        ("tile-events-30d", "this_30_days"),
    ):
        from_api = sum(int(str(answer("count", timeframe, name))) for name in NAMES)
        assert int(tile(html, tile_id)) == from_api
    assert int(tile(html, "tile-events-30d")) == len(events)  # every event is within 20 days

    hourly = answer("count", "this_24_hours", "purchase", interval="hourly")
    daily = answer("count", "this_30_days", "purchase", interval="daily")
    assert isinstance(hourly, list)
    assert isinstance(daily, list)
    assert len(chart_data(html, "data-24h")["x"]) == len(hourly) == 24
    assert len(chart_data(html, "data-30d")["x"]) == len(daily) == 30
    summed = [0] * 30
    for name in NAMES:
        series = answer("count", "this_30_days", name, interval="daily")
        assert isinstance(series, list)
        summed = [total + point["value"] for total, point in zip(summed, series, strict=True)]
    assert chart_data(html, "data-30d")["values"] == summed

    rows = re.findall(
        r'<td class="name"><a href="[^"]*">([^<]*)</a></td>\s*'
        r'<td class="num count" data-value="(\d+)">[^<]*</td>\s*'
        r'<td class="num uniques" data-value="(\d+)">',
        html,
    )
    assert [name for name, _, _ in rows] == sorted(
        NAMES, key=lambda n: (-sum(e["name"] == n for e in events), n)
    )
    for name, count, uniques in rows:
        assert int(count) == answer("count", "this_30_days", name)
        assert int(count) == sum(e["name"] == name for e in events)
        assert int(uniques) == answer(
            "count_unique", "this_30_days", name, target_property="distinct_id"
        )
        assert int(uniques) == len({e["distinct_id"] for e in events if e["name"] == name})

    assert int(tile(html, "tile-dlq")) == dlq_records() == len(INVALID)
    assert int(tile(html, "tile-aggregation")) == 0
    assert 'data-failed="0" data-abandoned="0" data-gaps="0"' in html

    cards = re.findall(r'class="tile wide metric-card" id="(metric-\d+)" href="([^"]*)"', html)
    assert len(cards) == 1
    card_id, link = cards[0]
    assert "event_collection=purchase" in link
    assert "timezone=Europe%2FParis" in link
    card = chart_data(html, f"{card_id}-data")
    assert len(card["x"]) == len(card["values"]) == len(card["averages"]) > 0
    assert staff.get(link.replace("&amp;", "&")).status_code == 200

    # Records produced and not yet aggregated are the aggregation lag, exactly.
    produce(topic_prefix, events[:5], keys["project_id"])
    later = staff.get(DASHBOARD, {"project": keys["project_id"], "timezone": "UTC"}).text
    assert int(tile(later, "tile-aggregation")) == 5
    assert float(tile(later, "tile-ingestion")) > 0


def test_the_dashboard_is_staff_only(project_keys) -> None:
    response = Client().get(DASHBOARD)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_event_explorer_shows_the_newest_events(recent_dataset) -> None:  # noqa: F811
    from insights.explorer import latest_events

    keys, events = recent_dataset
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("admin", "a@example.com", "pw"))
    start = min(e["timestamp"] for e in events) - dt.timedelta(minutes=1)
    end = max(e["timestamp"] for e in events) + dt.timedelta(minutes=1)
    frame = {"start": start.strftime("%Y-%m-%d %H:%M:%S"), "end": end.strftime("%Y-%m-%d %H:%M:%S")}

    def newest(chosen: list[dict]) -> list[str]:
        ordered = sorted(chosen, key=lambda e: (e["timestamp"], e["event_id"]), reverse=True)
        return [e["event_id"] for e in ordered]

    purchases = [e for e in events if e["name"] == "purchase"]
    page = staff.get(
        EXPLORER,
        {"project": keys["project_id"], "event_collection": "purchase", "limit": 10, **frame},
    )
    assert page.status_code == 200
    assert re.findall(r'<tr class="event" data-id="([^"]+)"', page.text) == newest(purchases)[:10]

    user = purchases[0]["distinct_id"]
    mine = staff.get(
        EXPLORER,
        {
            "project": keys["project_id"],
            "event_collection": "purchase",
            "distinct_id": user,
            "limit": 500,
            "timezone": "Asia/Tokyo",
            **{
                k: (v + dt.timedelta(hours=9)).strftime("%Y-%m-%d %H:%M:%S")
                for k, v in (("start", start), ("end", end))
            },
        },
    )
    ids = re.findall(r'<tr class="event" data-id="([^"]+)"', mine.text)
    assert ids == newest([e for e in purchases if e["distinct_id"] == user])
    assert ids
    shown = re.search(
        r'<td class="time">([^<]*)</td><td class="distinct-id">([^<]*)</td>', mine.text
    )
    assert shown is not None
    latest = max(
        (e for e in purchases if e["distinct_id"] == user),
        key=lambda e: (e["timestamp"], e["event_id"]),
    )
    assert shown.groups() == (
        (latest["timestamp"] + dt.timedelta(hours=9)).strftime("%Y-%m-%d %H:%M:%S"),
        user,
    )

    bounded = latest_events(
        project_id=keys["project_id"], name="purchase", start=start, end=end, max_scanned=5
    )
    assert (bounded.scanned, bounded.exhausted, len(bounded.events)) == (5, False, 5)
    whole = latest_events(
        project_id=keys["project_id"], name="purchase", start=start, end=end, limit=10_000
    )
    assert (whole.scanned, whole.exhausted) == (len(purchases), True)
    assert [e["keen"]["id"] for e in whole.events] == newest(purchases)
