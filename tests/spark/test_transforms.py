"""The aggregation job's pure transforms, on small DataFrames with exact expected outputs."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from spark.envelopes import EVENT_COLUMNS, invalid_records, parse_records, valid_events
from spark.jobs.aggregate import dedupe_batch, not_seen
from spark.rollups import (
    MEMBER_KEY,
    ROLLUP_COLUMNS,
    delta_rollups,
    members,
    merge_rollups,
    months_from_days,
)

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


def test_not_seen_keeps_rows_unseen_or_seen_only_by_this_batch(spark) -> None:
    batch = events_df(spark, [envelope(i, "2026-11-26T10:00:00Z") for i in "abcd"])
    seen = spark.createDataFrame(
        [("p1", "b", 7), ("p1", "c", 8), ("p2", "d", 7)],
        "project_id string, event_id string, batch_id long",
    )
    kept = not_seen(batch, seen, key=["project_id", "event_id"], batch_id=8)
    # "b" was stored by batch 7; "c" by this batch's interrupted attempt; "d" is another project's.
    assert sorted(r.event_id for r in kept.collect()) == ["a", "c", "d"]


def rollup_table(df) -> dict:
    return {
        (r.name, r.metric, r.granularity, r.period, r.bucket, r.category): (
            r["count"], r.uniques, r.sum, r.min, r.max
        )
        for r in df.collect()
    }  # fmt: skip


def fresh_rollups(spark, events):
    """The rollups of ``events`` merged into empty storage as batch 1."""
    empty = spark.createDataFrame([], CURRENT_SCHEMA)
    return merge_rollups(delta_rollups(events, members(events)), empty, batch_id=1)


CURRENT_SCHEMA = (
    "project_id string, name string, metric string, granularity string, period string, "
    "bucket timestamp, category string, count long, uniques long, sum decimal(38,9), "
    "min decimal(38,9), max decimal(38,9), batch_id long"
)


def test_rollups_are_exact_per_category_and_for_all(spark) -> None:
    rows = [
        envelope("1", "2026-11-26T10:05:00Z", distinct_id="u1", numeric_properties={"amount": 0.1}),
        envelope("2", "2026-11-26T10:55:00Z", distinct_id="u1", numeric_properties={"amount": 0.2}),
        envelope("3", "2026-11-26T11:00:00Z", distinct_id="u2", category="mobile",
                 numeric_properties={"amount": -3}),
        envelope("4", "2026-11-26T11:30:00Z", distinct_id=None, category="mobile",
                 numeric_properties={}),
    ]  # fmt: skip
    df = fresh_rollups(spark, events_df(spark, rows))
    assert df.columns == [*ROLLUP_COLUMNS, "batch_id"]
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


def test_members_are_distinct_per_bucket_and_category(spark) -> None:
    rows = [
        envelope("1", "2026-11-26T10:05:00Z", distinct_id="u1"),
        envelope("2", "2026-11-26T10:06:00Z", distinct_id="u1", category="mobile"),
        envelope("3", "2026-11-26T11:00:00Z", distinct_id=None),
    ]
    found = {tuple(r[k] for k in MEMBER_KEY[2:]) for r in members(events_df(spark, rows)).collect()}
    h10, day = dt.datetime(2026, 11, 26, 10), dt.datetime(2026, 11, 26)
    assert found == {
        ("hour", h10, "web", "u1"), ("hour", h10, "mobile", "u1"), ("hour", h10, "all", "u1"),
        ("day", day, "web", "u1"), ("day", day, "mobile", "u1"), ("day", day, "all", "u1"),
    }  # fmt: skip


def test_merge_adds_a_new_batch_and_keeps_a_row_this_batch_already_applied(spark) -> None:
    d = Decimal
    h10 = dt.datetime(2026, 11, 26, 10)
    key = ("p1", "purchase", "property:amount", "hour", "2026-11", h10, "web")
    other = ("p1", "purchase", "events", "hour", "2026-11", h10, "web")
    current = spark.createDataFrame(
        [(*key, 2, None, d("5"), d("1"), d("4"), 3), (*other, 10, 4, None, None, None, 9)],
        CURRENT_SCHEMA,
    )
    delta = spark.createDataFrame(
        [(*key, 3, None, d("-1"), d("-2"), d("0.5")), (*other, 5, 1, None, None, None)],
        "project_id string, name string, metric string, granularity string, period string, "
        "bucket timestamp, category string, count long, uniques long, sum decimal(38,9), "
        "min decimal(38,9), max decimal(38,9)",
    )
    merged = {r.metric: (r["count"], r.uniques, r.sum, r.min, r.max, r.batch_id)
              for r in merge_rollups(delta, current, batch_id=9).collect()}  # fmt: skip
    assert merged == {
        "property:amount": (5, None, d("4.000000000"), d("-2.000000000"), d("4.000000000"), 9),
        # Batch 9 was already merged into this row by an interrupted attempt: unchanged.
        "events": (10, 4, None, None, None, 9),
    }


def test_months_are_derived_from_days_exactly_without_uniques(spark) -> None:
    rows = [
        envelope("1", "2026-10-31T23:00:00Z", numeric_properties={"amount": 5}),
        envelope("2", "2026-11-01T00:00:00Z", numeric_properties={"amount": 2}),
        envelope("3", "2026-11-30T12:00:00Z", distinct_id="u2", numeric_properties={"amount": 7}),
    ]
    days = fresh_rollups(spark, events_df(spark, rows))
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
