"""spark/rollups.py: exact rollups, bucket members, merges and monthly rollups, on
small DataFrames with exact expected outputs."""

from __future__ import annotations

import datetime as dt
import random
import re
from decimal import Decimal
from fractions import Fraction

from pyspark.sql import DataFrame, SparkSession

from spark import exact
from spark.rollups import (
    bucket_members,
    by_read_cost,
    delta_rollups,
    event_deltas,
    members,
    merge_rollups,
    months_from_days,
)
from spark.schema import BUCKET_USER_KEY, ROLLUP_COLUMNS, STATS
from tests.spark.records import envelope, events_df


def rollup_table(df: DataFrame) -> dict:
    return {
        (r.name, r.metric, r.granularity, r.period, r.bucket, r.category): (
            r["count"],
            r.uniques,
            *[_decimal(r[name]) for name in STATS],
        )
        for r in df.collect()
    }


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def fresh_rollups(spark: SparkSession, events: DataFrame) -> DataFrame:
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


def test_rollups_are_exact_per_category_and_for_all(spark: SparkSession) -> None:
    rows = [
        envelope("1", "2026-11-26T10:05:00Z", distinct_id="u1", numeric_properties={"amount": 0.1}),
        envelope("2", "2026-11-26T10:55:00Z", distinct_id="u1", numeric_properties={"amount": 0.2}),
        envelope(
            "3",
            "2026-11-26T11:00:00Z",
            distinct_id="u2",
            category="mobile",
            numeric_properties={"amount": -3},
        ),
        envelope(
            "4", "2026-11-26T11:30:00Z", distinct_id=None, category="mobile", numeric_properties={}
        ),
    ]
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
        ("purchase", "property:amount", "hour", "2026-11", h10, "web"): (
            2,
            None,
            d("0.300000000"),
            d("0.100000000"),
            d("0.200000000"),
        ),
        ("purchase", "property:amount", "hour", "2026-11", h10, "all"): (
            2,
            None,
            d("0.300000000"),
            d("0.100000000"),
            d("0.200000000"),
        ),
        ("purchase", "property:amount", "hour", "2026-11", h11, "mobile"): (
            1,
            None,
            d("-3.000000000"),
            d("-3.000000000"),
            d("-3.000000000"),
        ),
        ("purchase", "property:amount", "hour", "2026-11", h11, "all"): (
            1,
            None,
            d("-3.000000000"),
            d("-3.000000000"),
            d("-3.000000000"),
        ),
        ("purchase", "property:amount", "day", "2026", day, "web"): (
            2,
            None,
            d("0.300000000"),
            d("0.100000000"),
            d("0.200000000"),
        ),
        ("purchase", "property:amount", "day", "2026", day, "mobile"): (
            1,
            None,
            d("-3.000000000"),
            d("-3.000000000"),
            d("-3.000000000"),
        ),
        ("purchase", "property:amount", "day", "2026", day, "all"): (
            3,
            None,
            d("-2.700000000"),
            d("-3.000000000"),
            d("0.200000000"),
        ),
    }


def test_members_are_distinct_per_bucket_and_category(spark: SparkSession) -> None:
    rows = [
        envelope("1", "2026-11-26T10:05:00Z", distinct_id="u1"),
        envelope("2", "2026-11-26T10:06:00Z", distinct_id="u1", category="mobile"),
        envelope("3", "2026-11-26T11:00:00Z", distinct_id=None),
    ]
    collected = members(events_df(spark, rows)).collect()
    found = {tuple(r[k] for k in BUCKET_USER_KEY[2:]) for r in collected}
    h10, day = dt.datetime(2026, 11, 26, 10), dt.datetime(2026, 11, 26)
    assert found == {
        ("hour", h10, "web", "u1"),
        ("hour", h10, "mobile", "u1"),
        ("hour", h10, "all", "u1"),
        ("day", day, "web", "u1"),
        ("day", day, "mobile", "u1"),
        ("day", day, "all", "u1"),
    }


def test_only_members_of_buckets_with_a_stored_event_row_need_a_lookup(
    spark: SparkSession,
) -> None:
    rows = [
        envelope("1", "2026-11-26T10:05:00Z", distinct_id="u1"),
        envelope("2", "2026-11-26T11:06:00Z", distinct_id="u2"),
    ]
    events = events_df(spark, rows)
    h10, h11 = dt.datetime(2026, 11, 26, 10), dt.datetime(2026, 11, 26, 11)
    day = dt.datetime(2026, 11, 26)
    no_stats = (None, None, None)
    hour10_web = ("p1", "purchase", "events", "hour", "2026-11", h10, "web")
    hour11_web_amount = ("p1", "purchase", "property:amount", "hour", "2026-11", h11, "web")
    day_all = ("p1", "purchase", "events", "day", "2026", day, "all")
    stored = spark.createDataFrame(
        [
            # hour 10 of web has an event row; hour 11 only a property row, which
            # every batch writes with the event row, so it is no evidence of users
            (*hour10_web, 1, 1, *no_stats, *no_stats, 4),
            (*hour11_web_amount, 1, None, "1", "1", "1", *no_stats, 4),
            (*day_all, 5, 2, *no_stats, *no_stats, 9),
        ],
        CURRENT_SCHEMA,
    )
    maybe_seen, surely_new = bucket_members(members(events), stored)

    def keys(df: DataFrame) -> set:
        return {tuple(r[k] for k in BUCKET_USER_KEY[2:]) for r in df.collect()}

    assert keys(maybe_seen) == {
        ("hour", h10, "web", "u1"),
        ("day", day, "all", "u1"),
        ("day", day, "all", "u2"),
    }
    assert keys(surely_new) == {
        ("hour", h10, "all", "u1"),
        ("hour", h11, "web", "u2"),
        ("hour", h11, "all", "u2"),
        ("day", day, "web", "u1"),
        ("day", day, "web", "u2"),
    }


def test_buckets_with_few_stored_users_are_read_whole_the_others_user_by_user(
    spark: SparkSession,
) -> None:
    h10, h11 = dt.datetime(2026, 11, 26, 10), dt.datetime(2026, 11, 26, 11)
    events = events_df(
        spark,
        [envelope(str(n), "2026-11-26T10:05:00Z", distinct_id=f"u{n}") for n in range(3)]
        + [envelope("9", "2026-11-26T11:05:00Z", distinct_id="u9")],
    )
    no_stats = (None, None, None)
    hour = ("p1", "purchase", "events", "hour", "2026-11")
    amount = ("p1", "purchase", "property:amount", "hour", "2026-11")
    stored = spark.createDataFrame(
        [
            (*hour, h10, "web", 30, 24, *no_stats, *no_stats, 4),  # 24 stored, 3 members
            (*hour, h11, "web", 50, 9, *no_stats, *no_stats, 4),  # 9 stored, 1 member
            (*hour, h10, "all", 30, 25, *no_stats, *no_stats, 4),  # 25 stored, 3 members
            # a property row's empty uniques says nothing about users
            (*amount, h11, "all", 1, None, "1", "1", "1", *no_stats, 4),
        ],
        CURRENT_SCHEMA,
    )
    hourly = members(events, ("hour",))

    def buckets(df: DataFrame) -> dict:
        found: dict = {}
        for r in df.collect():
            found.setdefault((r.bucket, r.category), set()).add(r.distinct_id)
        return found

    whole, one_by_one = by_read_cost(hourly, stored, ratio=8)
    assert buckets(whole) == {(h10, "web"): {"u0", "u1", "u2"}}
    assert buckets(one_by_one) == {
        (h11, "web"): {"u9"},
        (h10, "all"): {"u0", "u1", "u2"},
        (h11, "all"): {"u9"},  # no event row: nothing says it is small
    }
    whole, one_by_one = by_read_cost(hourly, stored, ratio=0)
    assert buckets(whole) == {}
    assert buckets(one_by_one) == buckets(hourly)


def test_event_deltas_are_the_rollups_with_no_users_yet(spark: SparkSession) -> None:
    rows = [
        envelope("1", "2026-11-26T10:05:00Z", distinct_id="u1", numeric_properties={"amount": 2}),
        envelope("2", "2026-11-26T10:06:00Z", distinct_id="u2"),
    ]
    events = events_df(spark, rows)
    with_users = rollup_table(delta_rollups(events, members(events)))
    without = rollup_table(event_deltas(events))
    assert without.keys() == with_users.keys()
    for key, (count, uniques, *stats) in with_users.items():
        is_event_row = key[1] == "events"
        assert without[key] == (count, 0 if is_event_row else None, *stats)
        assert uniques == (2 if is_event_row else None)


def test_merge_adds_a_new_batch_and_keeps_a_row_this_batch_already_applied(
    spark: SparkSession,
) -> None:
    d = Decimal
    h10 = dt.datetime(2026, 11, 26, 10)
    key = ("p1", "purchase", "property:amount", "hour", "2026-11", h10, "web")
    other = ("p1", "purchase", "events", "hour", "2026-11", h10, "web")
    current = spark.createDataFrame(
        [
            (*key, 2, None, "5", "1", "4", None, None, None, 3),
            (*other, 10, 4, None, None, None, None, None, None, 9),
        ],
        CURRENT_SCHEMA,
    )
    delta = spark.createDataFrame(
        [(*key, 3, None, "-1", "-2", "0.5"), (*other, 5, 1, None, None, None)], DELTA_SCHEMA
    )
    merged = {
        r.metric: (r["count"], r.uniques, *[_decimal(r[n]) for n in STATS], r.batch_id)
        for r in merge_rollups(delta, current, batch_id=9).collect()
    }
    assert merged == {
        "property:amount": (5, None, d("4.000000000"), d("-2.000000000"), d("4.000000000"), 9),
        # Batch 9 was already merged into this row by an interrupted attempt: unchanged.
        "events": (10, 4, None, None, None, 9),
    }


def test_months_are_derived_from_days_exactly_without_uniques(spark: SparkSession) -> None:
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
        ("property:amount", dt.datetime(2026, 10, 1), "all"): (
            1,
            None,
            d("5.000000000"),
            d("5.000000000"),
            d("5.000000000"),
        ),
        ("property:amount", dt.datetime(2026, 11, 1), "all"): (
            2,
            None,
            d("9.000000000"),
            d("2.000000000"),
            d("7.000000000"),
        ),
    }


EDGE_VALUES = [
    "1e+308",
    "-1e+308",
    "1e+30",
    "0.1234567890123",
    "-0.0",
    "5e-324",
    str(2**64 + 1),
    "123456789012345678901234567890.5",
]


def test_rollup_stats_are_exact_for_any_size_and_number_of_digits(spark: SparkSession) -> None:
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


# What the JVM sums: up to 12 digits on either side of the point, no exponent.
SHORT = r"-?[0-9]{1,12}(\.[0-9]{1,12})?"


def _mixed_number_texts(rng: random.Random, count: int) -> list[str]:
    """Number texts as envelopes carry them: short ones the JVM sums (up to 12 digits
    each side), and long, exponent, zero and negative-zero ones it hands to Python."""
    makers = [
        lambda: str(rng.randint(-(10**12) + 1, 10**12 - 1)),
        lambda: f"{rng.randint(-999, 999)}.{rng.randint(0, 10 ** rng.randint(1, 12) - 1)}",
        lambda: f"0.{'0' * rng.randint(0, 10)}{rng.randint(1, 9)}",
        lambda: rng.choice(["0", "-0", "-0.0", "0.000000000000", "999999999999.999999999999"]),
        lambda: str(rng.randint(10**12, 10**30)),
        lambda: (
            f"{rng.randint(1, 9)}.{rng.randint(0, 10**13)}e{rng.choice('+-')}{rng.randint(1, 40)}"
        ),
        lambda: f"-0.{rng.randint(0, 10**15)}",
    ]
    return [rng.choice(makers)() for _ in range(count)]


def test_property_stats_summed_in_the_jvm_are_the_texts_python_gives(
    spark: SparkSession,
) -> None:
    """Short numbers are summed as JVM decimals, the rest by the Python UDF: the sum's
    text, exponent included, is the one spark.exact gives for all the texts at once,
    and min and max are its values. Property "short" has only JVM numbers, "long" only
    Python ones, "mixed" both, "single" one value, "whole" only integers."""
    rng = random.Random(16)
    texts = {
        "short": [t for t in _mixed_number_texts(rng, 400) if re.fullmatch(SHORT, t)],
        "long": ["1e+308", "-5e-324", str(2**70), "0.1234567890123"],
        "mixed": _mixed_number_texts(rng, 400),
        "single": ["-0.000000000001"],
        "whole": ["5", "-7", "10", "0"],
    }
    rows = [
        envelope(f"{path}-{i}", "2026-11-26T10:00:00Z", numeric_properties={path: text})
        for path, values in texts.items()
        for i, text in enumerate(values)
    ]
    table = {
        r.metric: r
        for r in event_deltas(events_df(spark, rows), ("hour",)).collect()
        if r.category == "all"
    }
    for path, values in texts.items():
        row = table[f"property:{path}"]
        expected = exact.stats(values)
        assert expected is not None
        total, low, high = expected
        assert row["count"] == len(values)
        assert row.exact_sum == total, path
        assert (Decimal(row.exact_min), Decimal(row.exact_max)) == (Decimal(low), Decimal(high))


def test_merge_adds_exactly_beyond_decimal_38_and_reads_legacy_rows(spark: SparkSession) -> None:
    """A stored sum near 1e308 plus a delta stays exact (old code: overflow -> null
    sum while count kept growing); a row written before the exact columns contributes
    its legacy decimals."""
    h10 = dt.datetime(2026, 11, 26, 10)
    big = ("p1", "purchase", "property:x", "hour", "2026-11", h10, "web")
    legacy = ("p1", "purchase", "property:y", "hour", "2026-11", h10, "web")
    current = spark.createDataFrame(
        [
            (*big, 1, None, "1e+308", "1e+308", "1e+308", None, None, None, 3),
            (*legacy, 2, None, None, None, None, Decimal("2.5"), Decimal("1"), Decimal("1.5"), 3),
        ],
        CURRENT_SCHEMA,
    )
    delta = spark.createDataFrame(
        [(*big, 1, None, "1e-300", "1e-300", "1e-300"), (*legacy, 1, None, "-7", "-7", "-7")],
        DELTA_SCHEMA,
    )
    merged = {
        r.metric: (r["count"], *[_decimal(r[n]) for n in STATS])
        for r in merge_rollups(delta, current, batch_id=4).collect()
    }
    assert merged == {
        "property:x": (
            2,
            exact.total([Decimal("1e308"), Decimal("1e-300")]),
            Decimal("1e-300"),
            Decimal("1e308"),
        ),
        "property:y": (3, Decimal("-4.5"), Decimal("-7"), Decimal("1.5")),
    }
