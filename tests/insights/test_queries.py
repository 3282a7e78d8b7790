"""The query API answered from real rollups: every analysis against an independent
computation over the same generated events, Keen's shapes, errors and isolation."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from insights.aggregation import run_aggregation
from tests.insights.test_aggregation import produce

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "cassandra"])]

DAY0 = dt.datetime(2026, 9, 29, tzinfo=dt.UTC)  # three days across a month end
NAME = "purchase"


@pytest.fixture
def dataset(spark, topic_prefix, project_keys):
    """300 purchases over 72 hours, aggregated; returns (keys, events)."""
    rng = random.Random(11)
    events = []
    for _ in range(300):
        properties: dict[str, object] = {"plan": "pro"}
        if rng.random() < 0.9:
            properties["amount"] = round(rng.uniform(-10, 300), 2)
        events.append(
            {
                "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "name": NAME,
                "category": rng.choice(["web", "mobile"]),
                "distinct_id": rng.choice([f"user-{rng.randint(1, 30)}", None]),
                "timestamp": DAY0 + dt.timedelta(seconds=rng.randint(0, 72 * 3600 - 1)),
                "properties": properties,
            }
        )
    produce(topic_prefix, events, project_keys["project_id"])
    assert run_aggregation().events_written == 300
    return project_keys, events


def keen(client: Client, keys: dict, analysis: str, key: str = "read_key", **params):
    encoded = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
    return client.get(
        f"/3.0/projects/{keys['project_id']}/queries/{analysis}",
        encoded,
        HTTP_AUTHORIZATION=keys[key],
    )


def expected(events, analysis, start, end):
    chosen = [e for e in events if start <= e["timestamp"] < end]
    if analysis == "count":
        return len(chosen)
    if analysis == "count_unique":
        return len({e["distinct_id"] for e in chosen if e["distinct_id"]})
    amounts = [
        Decimal(repr(e["properties"]["amount"])) for e in chosen if "amount" in e["properties"]
    ]
    if analysis == "sum":
        total = sum(amounts, Decimal(0))
        return int(total) if total == total.to_integral_value() else float(total)
    if not amounts:
        return None
    if analysis == "average":
        return float(sum(amounts, Decimal(0)) / len(amounts))
    value = min(amounts) if analysis == "minimum" else max(amounts)
    return int(value) if value == value.to_integral_value() else float(value)


ANALYSES = ["count", "count_unique", "sum", "average", "minimum", "maximum"]
TARGET = {"count_unique": "distinct_id", "count": None}


def test_every_analysis_matches_an_independent_computation(dataset) -> None:
    keys, events = dataset
    client = Client()
    start, end = DAY0, DAY0 + dt.timedelta(days=3)
    frame = {"start": start.isoformat(), "end": end.isoformat()}
    for analysis in ANALYSES:
        params: dict[str, Any] = {"event_collection": NAME, "timeframe": frame}  # str or dict
        if TARGET.get(analysis, "amount"):
            params["target_property"] = TARGET.get(analysis, "amount")
        total = keen(client, keys, analysis, **params)
        assert total.status_code == 200, total.content
        assert total.json() == {"result": expected(events, analysis, start, end)}, analysis

        for interval, step in (("daily", dt.timedelta(days=1)), ("hourly", dt.timedelta(hours=1))):
            series = keen(client, keys, analysis, interval=interval, **params).json()["result"]
            bounds = []
            current = start
            while current < end:
                bounds.append((current, current + step))
                current += step
            assert [s["timeframe"]["start"] for s in series] == [
                b[0].isoformat(timespec="milliseconds").replace("+00:00", "Z") for b in bounds
            ]
            values = [s["value"] for s in series]
            wanted = [expected(events, analysis, a, b) for a, b in bounds]
            if analysis in ("count", "count_unique", "sum"):
                wanted = [w or 0 for w in wanted]
            assert values == wanted, (analysis, interval)


def test_monthly_interval_and_native_endpoint(dataset) -> None:
    keys, events = dataset
    client = Client()
    frame = {"start": "2026-09-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"}
    series = keen(
        client, keys, "count", event_collection=NAME, timeframe=frame, interval="monthly"
    ).json()["result"]
    october = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    assert [s["value"] for s in series] == [
        expected(events, "count", dt.datetime(2026, 9, 1, tzinfo=dt.UTC), october),
        expected(events, "count", october, dt.datetime(2026, 11, 1, tzinfo=dt.UTC)),
    ]
    uniques = keen(
        client,
        keys,
        "count_unique",
        event_collection=NAME,
        timeframe=frame,
        target_property="distinct_id",
        interval="monthly",
    ).json()["result"]
    assert uniques[1]["value"] == expected(
        events, "count_unique", october, dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    )
    native = client.get(
        "/api/v1/insights/sum",
        {"event_collection": NAME, "target_property": "amount", "timeframe": json.dumps(frame)},
        HTTP_AUTHORIZATION=f"Bearer {keys['read_key']}",
    )
    assert native.json() == {"result": expected(events, "sum", DAY0, DAY0 + dt.timedelta(days=3))}
    posted = client.post(
        f"/3.0/projects/{keys['project_id']}/queries/count",
        data=json.dumps({"event_collection": NAME, "timeframe": frame, "interval": "monthly"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=keys["read_key"],
    )
    assert posted.json() == {"result": series}


def test_errors_name_the_parameter_and_keys_see_only_their_project(dataset) -> None:
    keys, _ = dataset
    client = Client()
    frame = {"start": "2026-09-29T00:00:00Z", "end": "2026-10-02T00:00:00Z"}
    missing = keen(client, keys, "sum", event_collection=NAME, timeframe=frame)
    assert missing.status_code == 400
    assert missing.json() == {
        "message": "target_property: is required for sum",
        "error_code": missing.json()["error_code"],
    }
    tz = keen(
        client, keys, "count", event_collection=NAME, timeframe=frame, timezone="Mars/Olympus"
    )
    assert tz.status_code == 400
    assert tz.json()["message"].startswith("timezone:")
    assert (
        keen(
            client, keys, "count", key="write_key", event_collection=NAME, timeframe=frame
        ).status_code
        == 403
    )

    from events.services import create_project_with_keys

    _, other_keys = create_project_with_keys(name="other")
    foreign = client.get(
        f"/3.0/projects/{keys['project_id']}/queries/count",
        {"event_collection": NAME, "timeframe": json.dumps(frame)},
        HTTP_AUTHORIZATION=other_keys["read"],
    )
    assert foreign.status_code == 403
    own = client.get(
        "/api/v1/insights/count",
        {"event_collection": NAME, "timeframe": json.dumps(frame)},
        HTTP_AUTHORIZATION=f"Bearer {other_keys['read']}",
    )
    assert own.json() == {"result": 0}  # the other project has no events


def test_the_keen_python_client_gets_the_right_answers(dataset, live_server) -> None:
    from keen.client import KeenClient

    keys, events = dataset
    client = KeenClient(
        project_id=keys["project_id"], read_key=keys["read_key"], base_url=live_server.url
    )
    frame = {"start": "2026-09-29T00:00:00Z", "end": "2026-10-02T00:00:00Z"}
    start, end = DAY0, DAY0 + dt.timedelta(days=3)
    assert client.count(NAME, timeframe=frame) == expected(events, "count", start, end)
    assert client.sum(NAME, target_property="amount", timeframe=frame) == expected(
        events, "sum", start, end
    )
    daily = client.count_unique(
        NAME, target_property="distinct_id", timeframe=frame, interval="daily"
    )
    assert [d["value"] for d in daily] == [
        expected(
            events, "count_unique", start + dt.timedelta(days=n), start + dt.timedelta(days=n + 1)
        )
        for n in range(3)
    ]


def test_moving_averages_over_an_interval_series_match_pandas(dataset) -> None:
    import pandas as pd

    keys, events = dataset
    client = Client()
    frame = json.dumps({"start": "2026-09-29T00:00:00Z", "end": "2026-10-02T00:00:00Z"})
    hours = [DAY0 + dt.timedelta(hours=h) for h in range(73)]
    counts = pd.Series([expected(events, "count", a, b) for a, b in itertools.pairwise(hours)])

    def native(**params):
        response = client.get(
            "/api/v1/insights/count",
            {"event_collection": NAME, "timeframe": frame, "interval": "hourly", **params},
            HTTP_AUTHORIZATION=f"Bearer {keys['read_key']}",
        )
        assert response.status_code == 200, response.content
        return response.json()["result"]

    sma = native(kind="sma", window=24)
    assert [p["value"] for p in sma] == counts.tolist()
    assert [p["moving_average"] for p in sma] == pytest.approx(
        counts.rolling(24, min_periods=1).mean().tolist(), rel=1e-12
    )
    cma = native(kind="cma")
    assert [p["moving_average"] for p in cma] == pytest.approx(
        counts.expanding().mean().tolist(), rel=1e-12
    )
    bad = client.get(
        "/api/v1/insights/count",
        {"event_collection": NAME, "timeframe": frame, "kind": "sma"},
        HTTP_AUTHORIZATION=f"Bearer {keys['read_key']}",
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == "interval: is required for a moving average"


def test_results_are_cached_until_new_aggregates_land(dataset, topic_prefix, monkeypatch) -> None:
    from insights import store

    keys, events = dataset
    client = Client()
    frame = {"start": "2026-09-29T00:00:00Z", "end": "2026-10-02T00:00:00Z"}
    first = keen(client, keys, "count", event_collection=NAME, timeframe=frame).json()
    assert first == {"result": 300}

    real = store.rollup_rows
    calls = []

    def counted(**kw):
        calls.append(kw)
        return real(**kw)

    monkeypatch.setattr(store, "rollup_rows", counted)
    assert keen(client, keys, "count", event_collection=NAME, timeframe=frame).json() == first
    assert calls == []  # served from Redis
    keen(client, keys, "count", event_collection=NAME, timeframe=frame, max_age=0)
    assert len(calls) == 1  # max_age=0 recomputes

    late = [{**events[0], "event_id": str(uuid.uuid4())} for _ in range(5)]
    produce(topic_prefix, late, keys["project_id"])
    run_aggregation()
    assert keen(client, keys, "count", event_collection=NAME, timeframe=frame).json() == {
        "result": 305
    }
    bad = keen(client, keys, "count", event_collection=NAME, timeframe=frame, max_age="soon")
    assert bad.status_code == 400
    assert bad.json()["message"] == "max_age: must be a number of seconds"


def test_filters_group_by_and_raw_only_analyses_match_pandas(dataset, settings) -> None:
    import pandas as pd

    keys, events = dataset
    client = Client()
    frame = {"start": "2026-09-29T00:00:00Z", "end": "2026-10-02T00:00:00Z"}
    table = pd.DataFrame(
        [
            {
                "category": e["category"],
                "user": e["distinct_id"],
                "amount": e["properties"].get("amount"),
            }
            for e in events
        ]
    )
    big_web = table[(table.amount > 100) & (table.category == "web")]
    filters = [
        {"property_name": "amount", "operator": "gt", "property_value": 100},
        {"property_name": "category", "operator": "eq", "property_value": "web"},
    ]
    count = keen(
        client, keys, "count", event_collection=NAME, timeframe=frame, filters=json.dumps(filters)
    )
    assert count.json() == {"result": len(big_web)}

    by_category = keen(
        client, keys, "count", event_collection=NAME, timeframe=frame, group_by="category"
    ).json()["result"]
    assert by_category == [
        {"category": c, "result": int(n)} for c, n in table.groupby("category").size().items()
    ]
    amounts = table.amount.dropna()
    median = keen(
        client, keys, "median", event_collection=NAME, timeframe=frame, target_property="amount"
    ).json()["result"]
    assert median == pytest.approx(amounts.median(), rel=1e-12)
    p90 = keen(
        client,
        keys,
        "percentile",
        event_collection=NAME,
        timeframe=frame,
        target_property="amount",
        percentile=90,
    ).json()["result"]
    assert p90 == pytest.approx(amounts.quantile(0.9), rel=1e-12)
    users = keen(
        client,
        keys,
        "select_unique",
        event_collection=NAME,
        timeframe=frame,
        target_property="distinct_id",
    ).json()["result"]
    assert users == sorted(table.user.dropna().unique())

    first = min(e["timestamp"] for e in events).replace(second=0)
    window = {"start": first.isoformat(), "end": (first + dt.timedelta(minutes=10)).isoformat()}
    minutely = keen(
        client, keys, "count", event_collection=NAME, timeframe=window, interval="minutely"
    ).json()["result"]
    assert [m["value"] for m in minutely] == [
        expected(
            events, "count", first + dt.timedelta(minutes=n), first + dt.timedelta(minutes=n + 1)
        )
        for n in range(10)
    ]

    settings.AD_HOC_MAX_DAYS = 2
    too_wide = keen(
        client,
        keys,
        "median",
        event_collection=NAME,
        timeframe=frame,
        target_property="amount",
        max_age=0,
    )
    assert too_wide.status_code == 400
    assert too_wide.json()["message"].endswith("narrow the timeframe")


def test_multi_analysis_labels_share_one_read_of_the_same_rows(dataset, monkeypatch) -> None:
    from insights import store

    keys, _ = dataset
    client = Client()
    frame = {"start": "2026-09-29T00:00:00Z", "end": "2026-10-02T00:00:00Z"}
    real = store.rollup_rows
    calls: list[dict] = []

    def counted(**kw: Any) -> Any:
        calls.append(kw)
        return real(**kw)

    monkeypatch.setattr(store, "rollup_rows", counted)
    alone = keen(client, keys, "count", event_collection=NAME, timeframe=frame, max_age=0)
    reads_alone = len(calls)
    assert reads_alone > 0
    calls.clear()
    analyses = {label: {"analysis_type": "count"} for label in ("a", "b", "c")}
    multi = keen(
        client,
        keys,
        "multi_analysis",
        event_collection=NAME,
        timeframe=frame,
        analyses=json.dumps(analyses),
        max_age=0,
    )
    assert multi.json()["result"] == {label: alone.json()["result"] for label in analyses}
    assert len(calls) == reads_alone


def test_multi_analysis_and_funnel(dataset, topic_prefix) -> None:
    keys, events = dataset
    client = Client()
    frame = {"start": "2026-09-29T00:00:00Z", "end": "2026-10-02T00:00:00Z"}
    start, end = DAY0, DAY0 + dt.timedelta(days=3)
    analyses = {
        "n": {"analysis_type": "count"},
        "total": {"analysis_type": "sum", "target_property": "amount"},
    }
    multi = keen(
        client,
        keys,
        "multi_analysis",
        event_collection=NAME,
        timeframe=frame,
        analyses=json.dumps(analyses),
    ).json()["result"]
    assert multi == {"n": 300, "total": expected(events, "sum", start, end)}
    daily = keen(
        client,
        keys,
        "multi_analysis",
        event_collection=NAME,
        timeframe=frame,
        interval="daily",
        analyses=json.dumps(analyses),
    ).json()["result"]
    assert [d["value"]["n"] for d in daily] == [
        expected(events, "count", start + dt.timedelta(days=n), start + dt.timedelta(days=n + 1))
        for n in range(3)
    ]

    signup_at = {f"user-{n}": DAY0 + dt.timedelta(hours=n) for n in range(1, 11)}
    signups = [
        {
            "event_id": str(uuid.uuid4()),
            "name": "signup",
            "category": "web",
            "distinct_id": user,
            "timestamp": when,
            "properties": {},
        }
        for user, when in signup_at.items()
    ]
    produce(topic_prefix, signups, keys["project_id"])
    run_aggregation()
    steps = [
        {"event_collection": "signup", "actor_property": "distinct_id"},
        {"event_collection": NAME, "actor_property": "distinct_id"},
    ]
    funnel = keen(client, keys, "funnel", timeframe=frame, steps=json.dumps(steps))
    assert funnel.status_code == 200, funnel.content
    bought_after = {
        e["distinct_id"]
        for e in events
        if e["distinct_id"] in signup_at and e["timestamp"] >= signup_at[e["distinct_id"]]
    }
    assert funnel.json() == {"result": [10, len(bought_after)]}
    bad = keen(
        client, keys, "funnel", timeframe=frame, steps=json.dumps([{"event_collection": "x"}])
    )
    assert bad.status_code == 400
    assert bad.json()["message"] == "steps[0].actor_property: is required"


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata"])
def test_time_zones_bucket_by_local_days(dataset, zone) -> None:
    """New York's days are whole UTC hours (answered from hourly rollups); Kolkata's
    start on the half hour (answered from raw events). Both must be exact."""
    from zoneinfo import ZoneInfo

    keys, events = dataset
    client = Client()
    tz = ZoneInfo(zone)
    first = dt.datetime(2026, 9, 30, tzinfo=tz)
    frame = {"start": first.isoformat(), "end": (first + dt.timedelta(days=2)).isoformat()}
    for analysis, target in (("count", None), ("count_unique", "distinct_id"), ("sum", "amount")):
        params = {
            "event_collection": NAME,
            "timeframe": frame,
            "timezone": zone,
            "interval": "daily",
        }
        if target:
            params["target_property"] = target
        series = keen(client, keys, analysis, **params).json()["result"]
        days = [first + dt.timedelta(days=n) for n in range(3)]
        assert [s["timeframe"]["start"] for s in series] == [
            d.isoformat(timespec="milliseconds") for d in days[:2]
        ]
        assert [s["value"] for s in series] == [
            expected(events, analysis, a.astimezone(dt.UTC), b.astimezone(dt.UTC)) or 0
            for a, b in itertools.pairwise(days)
        ], analysis
