"""Keen's extraction, weekly and yearly intervals and ``include_metadata``, driven through
the unmodified ``keen`` 0.7.0 client against a live server over real rollups and raw
events, each answer compared with an independent computation over the generated events."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import requests
from django.db import connections

from insights.aggregation import run_aggregation
from tests.conftest import WorkerProcess
from tests.events.conftest import private_queue  # noqa: F401  (fixture)
from tests.insights.test_aggregation import produce

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "cassandra"], transaction=True),
]

DAY0 = dt.datetime(2026, 10, 5, tzinfo=dt.UTC)  # a Monday: 14 days, two ISO weeks
NAME = "signup"
PLANS = ("free", "pro", "team")


@pytest.fixture
def dataset(spark, topic_prefix, project_keys):
    """250 signups over 14 days (nested properties, some without a user) and 20 events of
    another collection, aggregated; returns (keys, signups)."""
    rng = random.Random(18)
    events = []
    for index in range(270):
        name = NAME if index < 250 else "other"
        user = rng.choice([f"user-{rng.randint(1, 40)}", None])
        properties: dict[str, object] = {
            "plan": rng.choice(PLANS),
            "amount": rng.randint(0, 500),
            "user": {"country": rng.choice(["fr", "de", "us"])},
        }
        events.append(
            {
                "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "name": name,
                "category": "web",
                "distinct_id": user,
                "timestamp": DAY0 + dt.timedelta(seconds=rng.randint(0, 14 * 86400 - 1)),
                "properties": properties,
            }
        )
    produce(topic_prefix, events, project_keys["project_id"])
    assert run_aggregation().events_written == 270
    return project_keys, [e for e in events if e["name"] == NAME]


def iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def keen_shape(event: dict) -> dict:
    """An event as Keen's extraction shows it, built from what was sent."""
    return {
        **event["properties"],
        "distinct_id": event["distinct_id"],
        "category": event["category"],
        "keen": {
            "timestamp": iso(event["timestamp"]),
            "id": event["event_id"],
            "created_at": iso(event["timestamp"]),  # produce(): received at its timestamp
        },
    }


def in_order(events: list[dict]) -> list[dict]:
    return sorted(events, key=lambda e: (e["timestamp"], e["event_id"]))


def client_for(keys: dict, url: str):
    from keen.client import KeenClient

    return KeenClient(
        project_id=keys["project_id"],
        read_key=keys["read_key"],
        write_key=keys["write_key"],
        master_key=keys["master_key"],
        base_url=url,
    )


def frame(start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    return {"start": start.isoformat(), "end": end.isoformat()}


def test_extraction_returns_the_events_as_keen_did(dataset, live_server) -> None:
    keys, events = dataset
    client = client_for(keys, live_server.url)
    start, end = DAY0 + dt.timedelta(days=2), DAY0 + dt.timedelta(days=9, hours=5)
    chosen = in_order([e for e in events if start <= e["timestamp"] < end])
    assert len(chosen) > 50

    assert client.extraction(NAME, timeframe=frame(start, end)) == [keen_shape(e) for e in chosen]

    pro = [e for e in chosen if e["properties"]["plan"] == "pro"]
    filters = [{"property_name": "plan", "operator": "eq", "property_value": "pro"}]
    assert client.extraction(NAME, timeframe=frame(start, end), filters=filters) == [
        keen_shape(e) for e in pro
    ]
    # latest=N: the newest N, still oldest first; with a filter, the newest N that pass
    assert client.extraction(NAME, timeframe=frame(start, end), latest=7) == [
        keen_shape(e) for e in chosen[-7:]
    ]
    assert client.extraction(NAME, timeframe=frame(start, end), filters=filters, latest=3) == [
        keen_shape(e) for e in pro[-3:]
    ]
    projected = client.extraction(
        NAME, timeframe=frame(start, end), property_names=["user.country", "keen.id", "absent"]
    )
    assert projected == [
        {"user": {"country": e["properties"]["user"]["country"]}, "keen": {"id": e["event_id"]}}
        for e in chosen
    ]
    # the other collection's events and another project's key see none of these
    assert (
        len(client.extraction("other", timeframe=frame(DAY0, DAY0 + dt.timedelta(days=14)))) == 20
    )


def test_extraction_bounds_answer_keen_shaped_400s(dataset, live_server, settings) -> None:
    from keen.exceptions import KeenApiError

    keys, _ = dataset
    client = client_for(keys, live_server.url)
    whole = frame(DAY0, DAY0 + dt.timedelta(days=14))
    settings.EXTRACTION_MAX_EVENTS = 100
    with pytest.raises(KeenApiError) as caught:
        client.extraction(NAME, timeframe=whole)
    assert "more than 100 events" in str(caught.value)
    assert "set latest" in str(caught.value)
    assert "pass email" in str(caught.value)
    # the same timeframe with latest is within the bound
    assert len(client.extraction(NAME, timeframe=whole, latest=100)) == 100
    settings.EXTRACTION_MAX_SCANNED = 200
    with pytest.raises(KeenApiError, match="read more than 200 events"):
        client.extraction(
            NAME,
            timeframe=whole,
            latest=100,
            filters=[{"property_name": "plan", "operator": "eq", "property_value": "nobody"}],
        )
    response = requests.get(
        f"{live_server.url}/3.0/projects/{keys['project_id']}/queries/extraction",
        params={"event_collection": NAME, "timeframe": json.dumps(whole), "latest": "0"},
        headers={"Authorization": keys["read_key"]},
        timeout=30,
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body) >= {"message", "error_code"}
    assert "latest" in body["message"]
    assert "from 1 to 100" in body["message"]


def expected_series(
    events: list[dict], edges: list[dt.datetime], value: Callable[[list[dict]], object]
) -> list[dict]:
    return [
        {
            "timeframe": {"start": iso(a), "end": iso(b)},
            "value": value([e for e in events if a <= e["timestamp"] < b]),
        }
        for a, b in itertools.pairwise(edges)
    ]


def uniques(chosen: list[dict]) -> int:
    return len({e["distinct_id"] for e in chosen if e["distinct_id"]})


def total(chosen: list[dict]) -> int:
    return int(sum((Decimal(e["properties"]["amount"]) for e in chosen), Decimal(0)))


def test_weekly_and_yearly_intervals_from_rollups_and_raw_events(dataset, live_server) -> None:
    keys, events = dataset
    client = client_for(keys, live_server.url)
    weeks = [DAY0 + dt.timedelta(days=7 * n) for n in range(3)]
    whole = frame(weeks[0], weeks[-1])
    assert client.count(NAME, timeframe=whole, interval="weekly") == expected_series(
        events, weeks, len
    )
    assert client.count_unique(
        NAME, target_property="distinct_id", timeframe=whole, interval="weekly"
    ) == expected_series(events, weeks, uniques)
    # a filter every event passes forces the raw scan: the same numbers
    every = [{"property_name": "keen.id", "operator": "exists", "property_value": True}]
    assert client.sum(
        NAME, target_property="amount", timeframe=whole, interval="weekly", filters=every
    ) == expected_series(events, weeks, total)
    assert client.sum(
        NAME, target_property="amount", timeframe=whole, interval="weekly"
    ) == expected_series(events, weeks, total)

    years = [dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2027, 1, 1, tzinfo=dt.UTC)]
    assert client.count_unique(
        NAME, target_property="distinct_id", timeframe=frame(*years), interval="yearly"
    ) == expected_series(events, years, uniques)

    # weeks in a time zone: Mondays at midnight in Los Angeles, from the hourly rollups
    pacific = ZoneInfo("US/Pacific")
    local = [dt.datetime(2026, 10, 5, tzinfo=pacific) + dt.timedelta(days=7 * n) for n in range(3)]
    result = client.count(
        NAME,
        timeframe=frame(*(edge.astimezone(dt.UTC) for edge in (local[0], local[-1]))),
        timezone="US/Pacific",
        interval="weekly",
    )
    assert [point["value"] for point in result] == [
        len([e for e in events if a <= e["timestamp"] < b]) for a, b in itertools.pairwise(local)
    ]
    assert result[0]["timeframe"]["start"] == "2026-10-05T00:00:00.000-07:00"


def test_include_metadata_says_what_answered_and_what_was_read(dataset, live_server) -> None:
    keys, events = dataset
    url = f"{live_server.url}/3.0/projects/{keys['project_id']}/queries"
    start, end = DAY0, DAY0 + dt.timedelta(days=3)
    in_frame = [e for e in events if start <= e["timestamp"] < end]

    def ask(analysis: str, **params: str | int) -> dict:
        response = requests.get(
            f"{url}/{analysis}",
            params={
                "event_collection": NAME,
                "timeframe": json.dumps(frame(start, end)),
                "include_metadata": "true",
                "max_age": 0,
                **params,
            },
            headers={"Authorization": keys["read_key"]},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()

    rollups = ask("count")
    assert rollups["result"] == len(in_frame)
    meta = rollups["execution_metadata"]
    assert meta["source"] == "rollups"
    assert meta["events_scanned"] == 0
    assert meta["rollup_rows_read"] == 3  # three daily rows
    assert meta["total_processing_time"] > 0

    raw = ask("median", target_property="amount")
    assert raw["execution_metadata"]["source"] == "raw_events"
    assert raw["execution_metadata"]["events_scanned"] == len(in_frame)
    assert raw["execution_metadata"]["properties_scanned"] == len(in_frame)

    extraction = ask("extraction", property_names=json.dumps(["plan"]))
    assert len(extraction["result"]) == len(in_frame)
    assert extraction["execution_metadata"]["events_scanned"] == len(in_frame)

    plain = requests.get(
        f"{url}/count",
        params={"event_collection": NAME, "timeframe": json.dumps(frame(start, end))},
        headers={"Authorization": keys["read_key"]},
        timeout=30,
    ).json()
    assert "execution_metadata" not in plain


def test_an_extraction_with_email_runs_as_a_job_and_its_events_download_as_json_lines(
    dataset,
    live_server,
    private_queue,  # noqa: F811
    tmp_path,
    settings,
) -> None:
    keys, events = dataset
    settings.EXTRACTIONS_DIR = tmp_path
    worker = WorkerProcess(
        private_queue,
        env={
            "CASSANDRA_KEYSPACE": connections["cassandra"].settings_dict["NAME"],
            "DATABASE_URL": f"sqlite:///{connections['default'].settings_dict['NAME']}",
            "EXTRACTIONS_DIR": str(tmp_path),
        },
    )
    worker.start()
    try:
        client = client_for(keys, live_server.url)
        whole = frame(DAY0, DAY0 + dt.timedelta(days=14))
        message = client.extraction(NAME, timeframe=whole, email="growth@example.com")
        assert message.startswith("Processing.")
        status_url = message.rsplit(" ", 1)[-1]
        headers = {"Authorization": keys["read_key"]}
        deadline = time.monotonic() + 120
        while True:
            status = requests.get(status_url, headers=headers, timeout=30).json()
            if status["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert status["status"] == "succeeded", status
        assert status["events"] == len(events)
        download = requests.get(status["events_url"], headers=headers, timeout=30)
        assert download.status_code == 200
        assert download.headers["Content-Type"] == "application/x-ndjson"
        lines = [json.loads(line) for line in download.text.splitlines()]
        assert lines == [keen_shape(e) for e in in_order(events)]
    finally:
        worker.stop()
    # another project's read key may not see the job; an unknown job is a Keen 404
    from events.services import create_project_with_keys

    _, other = create_project_with_keys(name="other")
    foreign = requests.get(status_url, headers={"Authorization": other["read"]}, timeout=30)
    assert foreign.status_code == 403
    assert foreign.json()["error_code"] == "InvalidApiKeyError"
    unknown = requests.get(
        status_url.rsplit("/", 1)[0] + f"/{uuid.uuid4()}", headers=headers, timeout=30
    )
    assert unknown.status_code == 404
    assert unknown.json()["error_code"] == "ResourceNotFoundError"
