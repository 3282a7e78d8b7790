"""The rollups a set of events must produce, computed independently in plain Python,
and the rollups actually stored in Cassandra, in the same shape for comparison."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db import connections

Key = tuple[
    str, str, str, str, dt.datetime, str
]  # name, metric, granularity, period, bucket, category
Value = tuple[int, int | None, Decimal | None, Decimal | None, Decimal | None]


def _bucket(when: dt.datetime, granularity: str) -> dt.datetime:
    when = when.astimezone(dt.UTC).replace(tzinfo=None)
    if granularity == "hour":
        return when.replace(minute=0, second=0, microsecond=0)
    if granularity == "day":
        return when.replace(hour=0, minute=0, second=0, microsecond=0)
    return when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _period(bucket: dt.datetime, granularity: str) -> str:
    return f"{bucket:%Y-%m}" if granularity == "hour" else f"{bucket:%Y}"


def _numbers(properties: dict, prefix: str = "") -> dict[str, Decimal]:
    found = {}
    for key, value in properties.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            found[prefix + key] = Decimal(repr(value) if isinstance(value, float) else value)
        elif isinstance(value, dict):
            found |= _numbers(value, f"{prefix}{key}.")
    return found


def expected_rollups(events: list[dict]) -> dict[Key, Value]:
    """``events``: one dict per distinct event with name, category, distinct_id,
    timestamp (aware datetime) and properties."""
    counts: dict = defaultdict(int)
    users: dict = defaultdict(set)
    values: dict = defaultdict(list)
    for event in events:
        for granularity in ("hour", "day", "month"):
            bucket = _bucket(event["timestamp"], granularity)
            period = _period(bucket, granularity)
            for category in (event["category"], "all"):
                key = (event["name"], "events", granularity, period, bucket, category)
                counts[key] += 1
                if event["distinct_id"] is not None:
                    users[key].add(event["distinct_id"])
                for path, number in _numbers(event["properties"]).items():
                    values[
                        (event["name"], f"property:{path}", granularity, period, bucket, category)
                    ].append(number)
    expected: dict[Key, Value] = {}
    for key, count in counts.items():
        expected[key] = (count, None if key[2] == "month" else len(users[key]), None, None, None)
    for key, numbers in values.items():
        expected[key] = (len(numbers), None, sum(numbers, Decimal(0)), min(numbers), max(numbers))
    return expected


def stored_rollups(project_id: str) -> dict[Key, Value]:
    """Every rollup row of ``project_id`` in the keyspace in use."""
    session = connections["cassandra"].connection.session
    keyspace = connections["cassandra"].settings_dict["NAME"]
    rows = session.execute(
        f"SELECT * FROM {keyspace}.rollups WHERE project_id = %s ALLOW FILTERING", (project_id,)
    )
    return {
        tuple(r[k] for k in ("name", "metric", "granularity", "period", "bucket", "category")): (
            r["count"],
            r["uniques"],
            *[_decimal(r[k]) for k in ("exact_sum", "exact_min", "exact_max")],
        )
        for r in rows
    }


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def stored_event_ids(project_id: str) -> list[str]:
    session = connections["cassandra"].connection.session
    keyspace = connections["cassandra"].settings_dict["NAME"]
    rows = session.execute(
        f"SELECT event_id FROM {keyspace}.raw_events WHERE project_id = %s ALLOW FILTERING",
        (project_id,),
    )
    return [r["event_id"] for r in rows]
