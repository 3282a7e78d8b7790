"""Keen's cached datasets through the unmodified ``keen`` client's ``cached_datasets``
against a live server: every method, results per index value compared with an
independent computation, and the buckets recomputed by a real worker after an
aggregation run brings new events."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from decimal import Decimal

import pytest
from django.db import connections
from keen.exceptions import KeenApiError

from insights.aggregation import run_aggregation
from insights.models import CachedDataset
from insights.tasks import refresh_dataset
from tests.conftest import WorkerProcess
from tests.events.conftest import private_queue  # noqa: F401  (fixture)
from tests.insights.test_aggregation import produce
from tests.insights.test_keen_extraction import (  # noqa: F401  (dataset: a fixture)
    DAY0,
    NAME,
    client_for,
    dataset,
    frame,
    iso,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "cassandra"], transaction=True),
]

DAILY = {
    "analysis_type": "count",
    "event_collection": NAME,
    "timeframe": frame(DAY0, DAY0 + dt.timedelta(days=14)),
    "interval": "daily",
}


def daily(events: list[dict], days: int, keep) -> list[dict]:
    edges = [DAY0 + dt.timedelta(days=n) for n in range(days + 1)]
    return [
        {
            "timeframe": {"start": iso(a), "end": iso(b)},
            "value": len([e for e in events if a <= e["timestamp"] < b and keep(e)]),
        }
        for a, b in itertools.pairwise(edges)
    ]


def test_every_cached_dataset_method(dataset, live_server) -> None:  # noqa: F811
    keys, events = dataset
    client = client_for(keys, live_server.url)
    datasets = client.cached_datasets
    created = datasets.create("signups-by-plan", DAILY, "plan", "Signups by plan")
    assert (created["dataset_name"], created["display_name"]) == (
        "signups-by-plan",
        "Signups by plan",
    )
    assert (created["query"], created["index_by"]) == (DAILY, ["plan"])
    record = CachedDataset.objects.get(name="signups-by-plan")
    assert refresh_dataset.apply(args=(record.pk,)).get() == 14  # what the worker runs
    assert refresh_dataset.apply(args=(record.pk,)).get() == 0  # no new events: nothing to do
    assert datasets.get("signups-by-plan")["buckets_computed"] == 14
    assert [d["dataset_name"] for d in datasets.all()["datasets"]] == ["signups-by-plan"]

    week = frame(DAY0, DAY0 + dt.timedelta(days=7))
    for plan in ("free", "pro", "team", "nobody"):
        assert datasets.results("signups-by-plan", plan, week)["result"] == daily(
            events, 7, lambda e, plan=plan: e["properties"]["plan"] == plan
        )

    # two index properties, a sum, weekly buckets computed on demand
    weekly_sum = {
        **DAILY,
        "analysis_type": "sum",
        "target_property": "amount",
        "interval": "weekly",
    }
    datasets.create("amount-by-plan-country", weekly_sum, ["plan", "user.country"], "Amounts")
    got = datasets.results(
        "amount-by-plan-country", {"plan": "pro", "user.country": "fr"}, DAILY["timeframe"]
    )["result"]
    weeks = [DAY0, DAY0 + dt.timedelta(days=7), DAY0 + dt.timedelta(days=14)]
    assert got == [
        {
            "timeframe": {"start": iso(a), "end": iso(b)},
            "value": int(
                sum(
                    (
                        Decimal(e["properties"]["amount"])
                        for e in events
                        if a <= e["timestamp"] < b
                        and e["properties"]["plan"] == "pro"
                        and e["properties"]["user"]["country"] == "fr"
                    ),
                    Decimal(0),
                )
            ),
        }
        for a, b in itertools.pairwise(weeks)
    ]

    assert datasets.delete("signups-by-plan") is True
    with pytest.raises(KeenApiError) as gone:
        datasets.get("signups-by-plan")
    assert gone.value.api_error["error_code"] == "ResourceNotFoundError"
    with pytest.raises(KeenApiError) as no_interval:
        datasets.create("bad", {**DAILY, "interval": None}, "plan", "Bad")
    assert no_interval.value.api_error["message"].startswith("query.interval: is required")
    with pytest.raises(KeenApiError) as no_value:
        datasets.results("amount-by-plan-country", "pro", week)
    assert "needs a value for each of plan, user.country" in no_value.value.api_error["message"]


def test_a_dataset_is_kept_current_as_aggregation_runs(
    dataset,  # noqa: F811
    live_server,
    private_queue,  # noqa: F811
    topic_prefix,
) -> None:
    keys, events = dataset
    client = client_for(keys, live_server.url)
    client.cached_datasets.create("signups-by-plan", DAILY, "plan", "Signups by plan")
    worker = WorkerProcess(
        private_queue,
        env={
            "CASSANDRA_KEYSPACE": connections["cassandra"].settings_dict["NAME"],
            "DATABASE_URL": f"sqlite:///{connections['default'].settings_dict['NAME']}",
        },
    )
    worker.start()
    try:
        record = CachedDataset.objects.get(name="signups-by-plan")
        deadline = time.monotonic() + 90
        while record.buckets.count() < 14 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert record.buckets.count() == 14  # computed by the worker after the creation
        whole = DAILY["timeframe"]
        before = client.cached_datasets.results("signups-by-plan", "team", whole)["result"]
        assert before == daily(events, 14, lambda e: e["properties"]["plan"] == "team")

        day3 = DAY0 + dt.timedelta(days=3, hours=5)
        more = [
            {
                **events[0],
                "event_id": f"late-{n}",
                "timestamp": day3,
                "properties": {"plan": "team"},
            }
            for n in range(25)
        ]
        produce(topic_prefix, more, keys["project_id"])
        assert run_aggregation().events_written == 25
        wanted = daily(events + more, 14, lambda e: e["properties"]["plan"] == "team")
        while time.monotonic() < deadline + 60:
            after = client.cached_datasets.results("signups-by-plan", "team", whole)["result"]
            if after == wanted:
                break
            time.sleep(0.5)
        assert after == wanted
        assert after[3]["value"] == before[3]["value"] + 25
    finally:
        worker.stop()
