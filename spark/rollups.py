"""Rollups: exact counts, unique users and numeric-property stats per time bucket.

A rollup row is keyed like the Cassandra ``rollups`` table: a partition per
(project_id, name, metric, granularity, period), clustered by (bucket, category).

- ``metric`` is ``"events"`` (``count`` and ``uniques`` filled) or
  ``"property:<dotted path>"`` (``count``, ``sum``, ``min`` and ``max`` filled).
- ``category`` is one of the event categories, or ``"all"`` for every category
  together (unique users cannot be summed across categories, so they get a row).
- ``period`` bounds the partition: the month (``2026-11``) for hourly buckets,
  the year (``2026``) for daily and monthly ones.

Every function here is a pure function of its input rows, so recomputing a bucket
from the same events always gives the same row.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark.envelopes import NUMBER

ALL = "all"
EVENTS_METRIC = "events"
PROPERTY_PREFIX = "property:"
PERIOD_FORMAT = {"hour": "yyyy-MM", "day": "yyyy", "month": "yyyy"}

ROLLUP_COLUMNS = [
    "project_id",
    "name",
    "metric",
    "granularity",
    "period",
    "bucket",
    "category",
    "count",
    "uniques",
    "sum",
    "min",
    "max",
]


def bucket_of(granularity: str) -> Column:
    """The UTC start of the ``granularity`` bucket holding ``event_time``."""
    return F.date_trunc(granularity, F.col("event_time"))


def _finish(grouped: DataFrame, granularity: str) -> DataFrame:
    return grouped.select(
        "project_id",
        "name",
        "metric",
        F.lit(granularity).alias("granularity"),
        F.date_format("bucket", PERIOD_FORMAT[granularity]).alias("period"),
        "bucket",
        "category",
        F.col("count").cast("long"),
        F.col("uniques").cast("long"),
        F.col("sum").cast(NUMBER),
        F.col("min").cast(NUMBER),
        F.col("max").cast(NUMBER),
    )


def _by_category_and_all(rows: DataFrame, keys: list[str], aggregates: list[Column]) -> DataFrame:
    per_category = rows.groupBy(*keys, "category").agg(*aggregates)
    together = rows.groupBy(*keys).agg(*aggregates).withColumn("category", F.lit(ALL))
    return per_category.unionByName(together)


def event_rollups(events: DataFrame, granularity: str) -> DataFrame:
    """``metric="events"`` rows: the number of events and of distinct non-null distinct_ids."""
    rows = events.select(
        "project_id",
        "name",
        "category",
        "distinct_id",
        F.lit(EVENTS_METRIC).alias("metric"),
        bucket_of(granularity).alias("bucket"),
    )
    grouped = _by_category_and_all(
        rows,
        ["project_id", "name", "metric", "bucket"],
        [
            F.count(F.lit(1)).alias("count"),
            F.countDistinct("distinct_id").alias("uniques"),
            F.lit(None).alias("sum"),
            F.lit(None).alias("min"),
            F.lit(None).alias("max"),
        ],
    )
    return _finish(grouped, granularity)


def property_rollups(events: DataFrame, granularity: str) -> DataFrame:
    """``metric="property:<path>"`` rows: count, sum, min and max of each numeric property."""
    rows = events.select(
        "project_id",
        "name",
        "category",
        bucket_of(granularity).alias("bucket"),
        F.explode("numeric_properties").alias("path", "value"),
    ).withColumn("metric", F.concat(F.lit(PROPERTY_PREFIX), F.col("path")))
    grouped = _by_category_and_all(
        rows,
        ["project_id", "name", "metric", "bucket"],
        [
            F.count("value").alias("count"),
            F.lit(None).alias("uniques"),
            F.sum("value").alias("sum"),
            F.min("value").alias("min"),
            F.max("value").alias("max"),
        ],
    )
    return _finish(grouped, granularity)


def compute_rollups(
    events: DataFrame, granularities: tuple[str, ...] = ("hour", "day")
) -> DataFrame:
    """Every rollup row of ``events`` at each granularity, in ROLLUP_COLUMNS order."""
    result = None
    for granularity in granularities:
        for rows in (event_rollups(events, granularity), property_rollups(events, granularity)):
            result = rows if result is None else result.unionByName(rows)
    return result.select(*ROLLUP_COLUMNS)


def months_from_days(day_rows: DataFrame) -> DataFrame:
    """Monthly rollups derived from daily ones, where that is exact.

    Counts and sums add up and minima and maxima combine, so those are exact;
    unique users do not add up across days, so a monthly row's ``uniques`` is null.
    """
    grouped = (
        day_rows.where(F.col("granularity") == "day")
        .withColumn("bucket", F.date_trunc("month", F.col("bucket")))
        .groupBy("project_id", "name", "metric", "bucket", "category")
        .agg(
            F.sum("count").alias("count"),
            F.lit(None).alias("uniques"),
            F.sum("sum").alias("sum"),
            F.min("min").alias("min"),
            F.max("max").alias("max"),
        )
    )
    return _finish(grouped, "month")
