"""The aggregation job's pure transforms, on small DataFrames with exact expected outputs."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from spark.envelopes import EVENT_COLUMNS, invalid_records, parse_records, valid_events
from spark.jobs.aggregate import dedupe_batch, in_touched_hours, new_events, rollups_for
from spark.rollups import ROLLUP_COLUMNS, compute_rollups, months_from_days

UTC = dt.UTC


def envelope(event_id: str, when: str, **fields) -> dict:
    record = {
        "event_id": event_id,
        "project_id": "p1",
        "name": "purchase",
        "category": "web",
        "distinct_id": "u1",
        "timestamp": when,
        "received_at": when,
        "properties": {"amount": 1, "label": "12"},
        "context": {"ip": "127.0.0.1"},
        "source": "native",
        "numeric_properties": {"amount": 1},
    }
    return record | fields


def records(spark, values: list, topic: str = "t", partition: int = 0):
    rows = [
        (topic, partition, offset, v if isinstance(v, bytes) else json.dumps(v).encode())
        for offset, v in enumerate(values)
    ]
    return spark.createDataFrame(rows, "topic string, partition int, offset long, value binary")


def events_df(spark, envelopes: list[dict]):
    return valid_events(parse_records(records(spark, envelopes))).select(*EVENT_COLUMNS)


def test_parse_keeps_fields_exactly(spark) -> None:
    record = envelope(
        "a",
        "2026-11-26T23:59:59.500Z",
        properties={"cart": {"total": 9.5}, "n": "7"},
        numeric_properties={"cart.total": 9.5, "big": 1e40},
    )
    [row] = valid_events(parse_records(records(spark, [record]))).collect()
    assert (row.event_id, row.project_id, row.category) == ("a", "p1", "web")
    assert row.event_time == dt.datetime(2026, 11, 26, 23, 59, 59, 500000)
    assert row.day == dt.date(2026, 11, 26)
    assert json.loads(row.properties) == {"cart": {"total": 9.5}, "n": "7"}
    assert json.loads(row.context) == {"ip": "127.0.0.1"}
    # A number beyond decimal(38, 9) is left out rather than rounded.
    assert row.numeric_properties == {"cart.total": Decimal("9.500000000")}
    assert (row.topic, row.partition, row.offset) == ("t", 0, 0)


def test_parse_sends_non_events_to_invalid_with_the_reason(spark) -> None:
    good = envelope("a", "2026-11-26T10:00:00Z")
    no_time = envelope("b", "yesterday")
    no_name = {k: v for k, v in envelope("c", "2026-11-26T10:00:00Z").items() if k != "name"}
    parsed = parse_records(records(spark, [good, b"not json", no_time, no_name, [1, 2]]))
    assert [r.event_id for r in valid_events(parsed).collect()] == ["a"]
    invalid = {r.offset: (r.reason, r.value) for r in invalid_records(parsed).collect()}
    assert invalid == {
        1: ("not a JSON event envelope", "not json"),
        2: ("missing or invalid: event_time", json.dumps(no_time)),
        3: ("missing or invalid: name", json.dumps(no_name)),
        4: ("not a JSON event envelope", "[1, 2]"),
    }


def test_dedupe_keeps_the_copy_at_the_lowest_offset(spark) -> None:
    copies = [
        envelope("a", "2026-11-26T10:00:00.003Z"),
        envelope("a", "2026-11-26T10:00:00.001Z"),
        envelope("b", "2026-11-26T10:00:00Z"),
        envelope("a", "2026-11-26T10:00:00.002Z", project_id="p2"),
    ]
    parsed = valid_events(parse_records(records(spark, copies)))
    kept = {(r.project_id, r.event_id): r.offset for r in dedupe_batch(parsed).collect()}
    assert kept == {("p1", "a"): 0, ("p1", "b"): 2, ("p2", "a"): 3}


def test_new_events_are_those_not_stored(spark) -> None:
    batch = events_df(spark, [envelope(i, "2026-11-26T10:00:00Z") for i in "abc"])
    # "b" was stored with a slightly different time (a client retry).
    stored = events_df(spark, [envelope("b", "2026-11-26T10:00:00.004Z")])
    assert sorted(r.event_id for r in new_events(batch, stored).collect()) == ["a", "c"]


def rollup_table(df) -> dict:
    return {
        (r.name, r.metric, r.granularity, r.period, r.bucket, r.category): (
            r["count"], r.uniques, r.sum, r.min, r.max
        )
        for r in df.collect()
    }  # fmt: skip


def test_rollups_are_exact_per_category_and_for_all(spark) -> None:
    rows = [
        envelope("1", "2026-11-26T10:05:00Z", distinct_id="u1", numeric_properties={"amount": 0.1}),
        envelope("2", "2026-11-26T10:55:00Z", distinct_id="u1", numeric_properties={"amount": 0.2}),
        envelope("3", "2026-11-26T11:00:00Z", distinct_id="u2", category="mobile",
                 numeric_properties={"amount": -3}),
        envelope("4", "2026-11-26T11:30:00Z", distinct_id=None, category="mobile",
                 numeric_properties={}),
    ]  # fmt: skip
    df = compute_rollups(events_df(spark, rows))
    assert df.columns == ROLLUP_COLUMNS
    h10, h11 = dt.datetime(2026, 11, 26, 10), dt.datetime(2026, 11, 26, 11)
    day = dt.datetime(2026, 11, 26)
    d = Decimal
    assert rollup_table(df) == {
        ("purchase", "events", "hour", "2026-11", h10, "web"): (2, 1, None, None, None),
        ("purchase", "events", "hour", "2026-11", h10, "all"): (2, 1, None, None, None),
        ("purchase", "events", "hour", "2026-11", h11, "mobile"): (2, 1, None, None, None),
        ("purchase", "events", "hour", "2026-11", h11, "all"): (2, 1, None, None, None),
        ("purchase", "events", "day", "2026", day, "web"): (2, 1, None, None, None),
        ("purchase", "events", "day", "2026", day, "mobile"): (2, 1, None, None, None),
        ("purchase", "events", "day", "2026", day, "all"): (4, 2, None, None, None),
        ("purchase", "property:amount", "hour", "2026-11", h10, "web"):
            (2, None, d("0.300000000"), d("0.100000000"), d("0.200000000")),
        ("purchase", "property:amount", "hour", "2026-11", h10, "all"):
            (2, None, d("0.300000000"), d("0.100000000"), d("0.200000000")),
        ("purchase", "property:amount", "hour", "2026-11", h11, "mobile"):
            (1, None, d("-3.000000000"), d("-3.000000000"), d("-3.000000000")),
        ("purchase", "property:amount", "hour", "2026-11", h11, "all"):
            (1, None, d("-3.000000000"), d("-3.000000000"), d("-3.000000000")),
        ("purchase", "property:amount", "day", "2026", day, "web"):
            (2, None, d("0.300000000"), d("0.100000000"), d("0.200000000")),
        ("purchase", "property:amount", "day", "2026", day, "mobile"):
            (1, None, d("-3.000000000"), d("-3.000000000"), d("-3.000000000")),
        ("purchase", "property:amount", "day", "2026", day, "all"):
            (3, None, d("-2.700000000"), d("-3.000000000"), d("0.200000000")),
    }  # fmt: skip


def test_only_touched_hours_are_recomputed_but_whole_days_are(spark) -> None:
    stored = [envelope(str(n), f"2026-11-26T{n:02d}:00:00Z", distinct_id=f"u{n}") for n in range(3)]
    batch = [envelope("late", "2026-11-26T01:30:00Z", distinct_id="u0")]
    all_events = events_df(spark, stored + batch)
    touched = in_touched_hours(all_events, events_df(spark, batch))
    assert sorted(r.event_id for r in touched.collect()) == ["1", "late"]

    table = rollup_table(rollups_for(all_events, events_df(spark, batch)))
    events_rows = {k[2:5:2]: v[:2] for k, v in table.items() if k[1] == "events" and k[5] == "all"}
    assert events_rows == {
        ("hour", dt.datetime(2026, 11, 26, 1)): (2, 2),
        ("day", dt.datetime(2026, 11, 26)): (4, 3),
    }


def test_months_are_derived_from_days_exactly_without_uniques(spark) -> None:
    rows = [
        envelope("1", "2026-10-31T23:00:00Z", numeric_properties={"amount": 5}),
        envelope("2", "2026-11-01T00:00:00Z", numeric_properties={"amount": 2}),
        envelope("3", "2026-11-30T12:00:00Z", distinct_id="u2", numeric_properties={"amount": 7}),
    ]
    days = compute_rollups(events_df(spark, rows), ("day",))
    months = {
        (k[1], k[4], k[5]): v
        for k, v in rollup_table(months_from_days(days)).items()
        if k[5] == "all"
    }
    d = Decimal
    assert months == {
        ("events", dt.datetime(2026, 10, 1), "all"): (1, None, None, None, None),
        ("events", dt.datetime(2026, 11, 1), "all"): (2, None, None, None, None),
        ("property:amount", dt.datetime(2026, 10, 1), "all"):
            (1, None, d("5.000000000"), d("5.000000000"), d("5.000000000")),
        ("property:amount", dt.datetime(2026, 11, 1), "all"):
            (2, None, d("9.000000000"), d("2.000000000"), d("7.000000000")),
    }  # fmt: skip
