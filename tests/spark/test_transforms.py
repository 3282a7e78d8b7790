"""The aggregation job's pure transforms, on small DataFrames with exact expected outputs."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from fractions import Fraction

from spark import exact
from spark.envelopes import invalid_records, parse_records, valid_events
from spark.jobs.aggregate import dedupe_batch, not_seen
from spark.rollups import delta_rollups, members, merge_rollups, months_from_days
from spark.schema import BUCKET_USER_KEY, RAW_EVENT_COLUMNS, ROLLUP_COLUMNS, STATS

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
    return valid_events(parse_records(records(spark, envelopes))).select(*RAW_EVENT_COLUMNS)


def test_parse_keeps_fields_exactly(spark) -> None:
    record = envelope(
        "a",
        "2026-11-26T23:59:59.500Z",
        properties={"cart": {"total": 9.5}, "n": "7"},
        numeric_properties={"cart.total": "9.5", "big": "1e+40", "bad": "12abc", "old": 1e40},
    )
    [row] = valid_events(parse_records(records(spark, [record]))).collect()
    assert (row.event_id, row.project_id, row.category) == ("a", "p1", "web")
    assert row.event_time == dt.datetime(2026, 11, 26, 23, 59, 59, 500000)
    assert row.day == dt.date(2026, 11, 26)
    assert json.loads(row.properties) == {"cart": {"total": 9.5}, "n": "7"}
    assert json.loads(row.context) == {"ip": "127.0.0.1"}
    # Each number is kept as its exact text, whatever its size; text that is not a
    # JSON number is left out; a number (an envelope from before numbers were text)
    # is read as Spark prints it.
    assert row.numeric_properties == {"cart.total": "9.5", "big": "1e+40", "old": "1.0E40"}
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
            r["count"], r.uniques, *[_decimal(r[name]) for name in STATS]
        )
        for r in df.collect()
    }  # fmt: skip


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def fresh_rollups(spark, events):
    """The rollups of ``events`` merged into empty storage as batch 1."""
    empty = spark.createDataFrame([], CURRENT_SCHEMA)
    return merge_rollups(delta_rollups(events, members(events)), empty, batch_id=1)


DELTA_SCHEMA = (
    "project_id string, name string, metric string, granularity string, period string, "
    "bucket timestamp, category string, count long, uniques long, exact_sum string, "
    "exact_min string, exact_max string"
)
CURRENT_SCHEMA = (
    "project_id string, name string, metric string, granularity string, period string, "
    "bucket timestamp, category string, count long, uniques long, exact_sum string, "
    "exact_min string, exact_max string, sum decimal(38,9), min decimal(38,9), "
    "max decimal(38,9), batch_id long"
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
    found = members(events_df(spark, rows)).collect()
    found = {tuple(r[k] for k in BUCKET_USER_KEY[2:]) for r in found}
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
        [(*key, 2, None, "5", "1", "4", None, None, None, 3),
         (*other, 10, 4, None, None, None, None, None, None, 9)],
        CURRENT_SCHEMA,
    )  # fmt: skip
    delta = spark.createDataFrame(
        [(*key, 3, None, "-1", "-2", "0.5"), (*other, 5, 1, None, None, None)], DELTA_SCHEMA
    )
    merged = {r.metric: (r["count"], r.uniques, *[_decimal(r[n]) for n in STATS], r.batch_id)
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


def test_parse_places_an_event_stamped_after_it_was_received_at_its_received_time(
    spark,
) -> None:
    """Issue 12: an event stamped ahead of its receipt (a fast client clock, within the
    allowed skew) got a daily bucket but no hourly one the query could see, and the raw
    scan missed it. Old code: event_time was the timestamp (10:40)."""
    ahead = envelope("a", "2026-11-26T10:40:00Z", received_at="2026-11-26T09:55:00.250Z")
    behind = envelope("b", "2026-11-20T08:00:00Z", received_at="2026-11-26T09:55:00Z")
    rows = {r.event_id: (r.event_time, r.day) for r in events_df(spark, [ahead, behind]).collect()}
    assert rows == {
        "a": (dt.datetime(2026, 11, 26, 9, 55, 0, 250000), dt.date(2026, 11, 26)),
        "b": (dt.datetime(2026, 11, 20, 8, 0), dt.date(2026, 11, 20)),
    }


EDGE_VALUES = ["1e+308", "-1e+308", "1e+30", "0.1234567890123", "-0.0", "5e-324",
               str(2**64 + 1), "123456789012345678901234567890.5"]  # fmt: skip


def test_rollup_stats_are_exact_for_any_size_and_number_of_digits(spark) -> None:
    """Issue 12: decimal(38, 9) dropped values beyond about 1e29 (so 1e308 was never a
    maximum), rounded those with more than 9 fractional digits, and nulled a sum that
    overflowed. Old code: sum 0.1, min 0.123456789, max 1e30-ish, dropped values."""
    rows = [
        envelope(str(i), "2026-11-26T10:00:00Z", numeric_properties={"x": value})
        for i, value in enumerate(EDGE_VALUES)
    ]
    df = fresh_rollups(spark, events_df(spark, rows))
    table = rollup_table(df)
    h10 = dt.datetime(2026, 11, 26, 10)
    count, uniques, total, low, high = table[
        ("purchase", "property:x", "hour", "2026-11", h10, "all")
    ]
    # The exact rational sum, computed independently (1e308 and -1e308 cancel).
    assert Fraction(total) == sum(Fraction(v) for v in EDGE_VALUES)
    assert (count, uniques, low, high) == (
        len(EDGE_VALUES),
        None,
        Decimal("-1e308"),
        Decimal("1e308"),
    )


def test_merge_adds_exactly_beyond_decimal_38_and_reads_legacy_rows(spark) -> None:
    """A stored sum near 1e308 plus a delta stays exact (old code: overflow -> null
    sum while count kept growing); a row written before the exact columns contributes
    its legacy decimals."""
    h10 = dt.datetime(2026, 11, 26, 10)
    big = ("p1", "purchase", "property:x", "hour", "2026-11", h10, "web")
    legacy = ("p1", "purchase", "property:y", "hour", "2026-11", h10, "web")
    current = spark.createDataFrame(
        [(*big, 1, None, "1e+308", "1e+308", "1e+308", None, None, None, 3),
         (*legacy, 2, None, None, None, None, Decimal("2.5"), Decimal("1"), Decimal("1.5"), 3)],
        CURRENT_SCHEMA,
    )  # fmt: skip
    delta = spark.createDataFrame(
        [(*big, 1, None, "1e-300", "1e-300", "1e-300"), (*legacy, 1, None, "-7", "-7", "-7")],
        DELTA_SCHEMA,
    )
    merged = {r.metric: (r["count"], *[_decimal(r[n]) for n in STATS])
              for r in merge_rollups(delta, current, batch_id=4).collect()}  # fmt: skip
    assert merged == {
        "property:x": (2, exact.total([Decimal("1e308"), Decimal("1e-300")]),
                       Decimal("1e-300"), Decimal("1e308")),
        "property:y": (3, Decimal("-4.5"), Decimal("-7"), Decimal("1.5")),
    }  # fmt: skip
