"""Rollups: exact counts, unique users and numeric-property stats per time bucket,
maintained incrementally and idempotently.

A rollup row is keyed like the Cassandra ``rollups`` table: a partition per
(project_id, name, metric, granularity, period), clustered by (bucket, category).

- ``metric`` is ``"events"`` (``count`` and ``uniques`` filled) or
  ``"property:<dotted path>"`` (``count``, ``exact_sum``, ``exact_min`` and
  ``exact_max`` filled). The three are exact decimals as text (``spark/exact.py``):
  any size, any number of digits, never rounded, never overflowing. They are
  computed by Python UDFs on the same functions the raw-event scan uses, so both
  paths give the identical number; short numbers are first summed exactly as JVM
  decimals, which the UDF adds as one term (``_partial_stats``). Rows written before
  them hold the legacy ``sum``, ``min`` and ``max`` decimals instead, which are read
  as a fallback.
- ``category`` is one of the event categories, or ``"all"`` for every category
  together (unique users cannot be summed across categories, so they get a row).
- ``period`` bounds the partition: the month (``2026-11``) for hourly buckets,
  the year (``2026``) for daily and monthly ones.
- ``batch_id`` is the last batch merged into the row. Merging the same batch again
  keeps the row as it is, which is what makes a rerun of a batch exact.

Unique users are exact: a ``bucket_users`` row records that a user was seen in a
bucket, and only users not seen before add to ``uniques``.
"""

from __future__ import annotations

from pyspark import cloudpickle
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark import exact
from spark.schema import (
    ALL_CATEGORIES,
    BUCKET_KEY,
    BUCKET_USER_KEY,
    EVENT_GRANULARITIES,
    EVENTS_METRIC,
    LEGACY_STATS,
    PROPERTY_PREFIX,
    ROLLUP_KEY,
    STATS,
    Granularity,
    period_spark_format,
)

# Ship spark.exact to the Python workers with the UDFs, so executors need not have
# this repository on their path (a standalone cluster).
cloudpickle.register_pickle_by_value(exact)

# A partition of daily rollups: project_id, name, metric, period (the year).
DayPartition = tuple[str, str, str, str]


def _buckets(events: DataFrame, granularities: tuple[str, ...]) -> DataFrame:
    """One row per event and granularity, with ``granularity``, ``bucket`` and ``period``."""
    rows: DataFrame | None = None
    for granularity in granularities:
        bucketed = (
            events.withColumn("granularity", F.lit(granularity))
            .withColumn("bucket", F.date_trunc(granularity, F.col("event_time")))
            .withColumn("period", F.date_format("bucket", period_spark_format(granularity)))
        )
        rows = bucketed if rows is None else rows.unionByName(bucketed)
    if rows is None:
        raise ValueError("_buckets needs at least one granularity")
    return rows


def _each_category_and_all(rows: DataFrame) -> DataFrame:
    return rows.unionByName(rows.withColumn("category", F.lit(ALL_CATEGORIES)))


_STATS_TYPE = T.StructType([T.StructField(name, T.StringType()) for name in STATS])
# (sums, mins, maxes) arrays of decimal text -> struct(exact_sum, exact_min, exact_max).
_combine = F.udf(exact.combine, _STATS_TYPE)


def _exact_stats(sums: Column, mins: Column, maxes: Column) -> list[Column]:
    """exact_sum, exact_min and exact_max of arrays of partial decimal texts."""
    combined = _combine(sums, mins, maxes)
    return [combined[name].alias(name) for name in STATS]


def with_legacy_stats(stored: DataFrame) -> DataFrame:
    """``stored`` rollup rows with each missing exact statistic taken from its legacy
    decimal column (rows written before the exact columns existed)."""
    for name, legacy in LEGACY_STATS.items():
        if legacy in stored.columns:
            stored = stored.withColumn(
                name, F.coalesce(F.col(name), F.col(legacy).cast("string"))
            ).drop(legacy)
    return stored


def _typed(rows: DataFrame) -> DataFrame:
    return rows.select(
        *ROLLUP_KEY,
        F.col("count").cast("long"),
        F.col("uniques").cast("long"),
        *[F.col(name).cast("string") for name in STATS],
    )


def members(events: DataFrame, granularities: tuple[str, ...] = EVENT_GRANULARITIES) -> DataFrame:
    """Distinct (project, name, granularity, bucket, category, distinct_id) of ``events``
    with a distinct_id, for each category and for ``all``."""
    rows = _buckets(events.where(F.col("distinct_id").isNotNull()), granularities)
    return _each_category_and_all(rows).select(*BUCKET_USER_KEY).distinct()


def delta_rollups(
    events: DataFrame, new_members: DataFrame, granularities: tuple[str, ...] = EVENT_GRANULARITIES
) -> DataFrame:
    """What ``events`` add to each bucket: event counts, property stats, and as
    ``uniques`` the number of ``new_members`` (users not seen in the bucket before)."""
    return with_uniques(event_deltas(events, granularities), new_members)


def event_deltas(
    events: DataFrame, granularities: tuple[str, ...] = EVENT_GRANULARITIES
) -> DataFrame:
    """``delta_rollups`` without the users: every row it gives, with ``uniques`` 0 on
    the event rows (null on property rows), so the keys are known before the users."""
    rows = _each_category_and_all(_buckets(events, granularities))
    group = ["project_id", "name", "granularity", "period", "bucket", "category"]
    event_rows = (
        rows.groupBy(*group)
        .agg(F.count(F.lit(1)).alias("count"))
        .select(
            *group,
            F.lit(EVENTS_METRIC).alias("metric"),
            "count",
            F.lit(0).alias("uniques"),
            *[F.lit(None).alias(name) for name in STATS],
        )
    )
    numbers = rows.select(*group, F.explode("numeric_properties").alias("path", "value"))
    property_rows = (
        numbers.withColumn("metric", F.concat(F.lit(PROPERTY_PREFIX), F.col("path")))
        .groupBy(*group, "metric")
        .agg(F.count("value").alias("count"), *_partial_stats(F.col("value")))
        .select(
            *group,
            "metric",
            "count",
            F.lit(None).alias("uniques"),
            *_exact_stats(*_partials_and_rest()),
        )
    )
    return _typed(event_rows).unionByName(_typed(property_rows))


# A number with at most this many digits on either side of the point (and no exponent)
# is summed in the JVM, as a decimal(2 * _FAST_DIGITS, _FAST_DIGITS): exact, and with
# 10 more digits of headroom its sum cannot overflow below 10**10 values. Any other
# number goes to the Python UDF as it is.
_FAST_DIGITS = 12
_FAST_NUMBER = rf"^-?[0-9]{{1,{_FAST_DIGITS}}}(\.[0-9]{{1,{_FAST_DIGITS}}})?$"
_FAST_TYPE = f"decimal({2 * _FAST_DIGITS},{_FAST_DIGITS})"


def _partial_stats(value: Column) -> list[Column]:
    """Aggregates of a group's number texts ``value``: the JVM's exact partial (sum,
    min, max) of its short numbers (``_fast_sum`` as decimal text with as many decimals
    as its most precise term, ``_fast_min``, ``_fast_max`` as one of their texts), and
    ``_rest``, the other texts. ``_partials_and_rest`` hands both to the UDF, which
    gives the same text it would give for every number one by one."""
    fast = value.rlike(_FAST_NUMBER)
    number = F.when(fast, value.cast(_FAST_TYPE))
    decimals = F.length(F.regexp_extract(value, r"\.([0-9]+)$", 1))
    return [
        F.sum(number).alias("_fast_sum"),
        F.max(F.when(fast, decimals)).alias("_fast_decimals"),
        F.min_by(value, number).alias("_fast_min"),
        F.max_by(value, number).alias("_fast_max"),
        F.collect_list(F.when(~fast, value)).alias("_rest"),
    ]


def _partials_and_rest() -> tuple[Column, Column, Column]:
    """(sums, mins, maxes) arrays for ``_exact_stats`` from ``_partial_stats``' columns."""
    rest = F.col("_rest")
    return (
        F.concat(F.array(_decimal_text(F.col("_fast_sum"), F.col("_fast_decimals"))), rest),
        F.concat(F.array(F.col("_fast_min")), rest),
        F.concat(F.array(F.col("_fast_max")), rest),
    )


def _decimal_text(total: Column, decimals: Column) -> Column:
    """``total`` (a sum of ``_FAST_TYPE``) as plain decimal text with ``decimals``
    decimals (null for null): the decimal, exponent included, that Python's exact sum
    of its terms gives. No term has more decimals, so ``format_number`` rounds nothing
    (a cast to string would print small values in E notation)."""
    grouped = F.call_function("format_number", total, decimals)
    return F.regexp_replace(grouped, ",", "")


def with_uniques(deltas: DataFrame, new_members: DataFrame) -> DataFrame:
    """``event_deltas`` rows with each event row's ``uniques`` set to the number of
    ``new_members`` of its bucket."""
    uniques = new_members.groupBy(*BUCKET_KEY).agg(F.count(F.lit(1)).alias("_new_users"))
    is_event_row = F.col("metric") == F.lit(EVENTS_METRIC)
    return _typed(
        deltas.join(uniques, list(BUCKET_KEY), "left").withColumn(
            "uniques",
            F.when(is_event_row, F.coalesce("_new_users", F.lit(0))).otherwise(F.col("uniques")),
        )
    )


def bucket_members(rows: DataFrame, stored_rollups: DataFrame) -> tuple[DataFrame, DataFrame]:
    """``rows`` (``members``) split by whether their bucket has a stored event rollup row:
    (in such a bucket, in a bucket without one).

    A batch writes its bucket users before its rollups, and an unfinished batch is
    redone before any other runs, so users stored by another batch are only ever in
    buckets with a stored rollup row: the members of the other buckets are all new,
    without reading ``bucket_users``.
    """
    stored = (
        stored_rollups.where(F.col("metric") == F.lit(EVENTS_METRIC)).select(*BUCKET_KEY).distinct()
    )
    return (
        rows.join(stored, list(BUCKET_KEY), "left_semi"),
        rows.join(stored, list(BUCKET_KEY), "left_anti"),
    )


# A bucket's stored users are read whole (one partition read) while they are at most
# this many times the batch's members of that bucket, and member by member otherwise:
# a row of a partition read costs Cassandra a small fraction of a point read.
WHOLE_BUCKET_READ_RATIO = 8


def by_read_cost(
    maybe_seen: DataFrame, stored_rollups: DataFrame, *, ratio: float = WHOLE_BUCKET_READ_RATIO
) -> tuple[DataFrame, DataFrame]:
    """``maybe_seen`` (``bucket_members``' first part) split by how their bucket's
    stored users are cheaper to read: (members of buckets read whole, members looked
    up one by one).

    A bucket's stored event rollup row counts the users stored in it (``uniques``), so
    a bucket whose stored users are at most ``ratio`` times its members in this batch
    is read whole; either way the users found are the same, only the cost differs.
    """
    wanted = maybe_seen.groupBy(*BUCKET_KEY).agg(F.count(F.lit(1)).alias("_members"))
    stored = stored_rollups.where(F.col("metric") == F.lit(EVENTS_METRIC)).select(
        *BUCKET_KEY, F.col("uniques").alias("_stored")
    )
    whole = (
        wanted.join(stored, list(BUCKET_KEY))
        .where(F.col("_stored") <= F.col("_members") * F.lit(ratio))
        .select(*BUCKET_KEY)
    )
    return (
        maybe_seen.join(whole, list(BUCKET_KEY), "left_semi"),
        maybe_seen.join(whole, list(BUCKET_KEY), "left_anti"),
    )


def merge_rollups(delta: DataFrame, current: DataFrame, *, batch_id: int) -> DataFrame:
    """The rows to write: ``current`` plus ``delta``, stamped with ``batch_id``.

    ``current`` holds the stored rows (ROLLUP_COLUMNS, optionally the legacy
    statistics, and ``batch_id``) of the delta's keys, or none. A stored row already
    stamped with ``batch_id`` already includes this batch and is written back
    unchanged. Sums, minima and maxima combine exactly (``spark.exact.combine``).
    """
    current = with_legacy_stats(current)
    c = current.select(
        *ROLLUP_KEY,
        *[F.col(k).alias(f"c_{k}") for k in ["count", "uniques", *STATS, "batch_id"]],
    )
    joined = delta.join(c, list(ROLLUP_KEY), "left")
    applied = F.col("c_batch_id") == F.lit(batch_id)

    def add(name: str) -> Column:
        total = F.coalesce(F.col(f"c_{name}"), F.lit(0)) + F.col(name)
        return F.when(F.col(name).isNull(), F.col(f"c_{name}")).otherwise(total)

    def pair(name: str) -> Column:
        return F.array(F.col(f"c_{name}"), F.col(name))

    stats = _combine(pair("exact_sum"), pair("exact_min"), pair("exact_max"))
    merged = {
        "count": add("count"),
        "uniques": add("uniques"),
        **{name: stats[name] for name in STATS},
    }
    return _typed(
        joined.select(
            *ROLLUP_KEY,
            *[
                F.when(applied, F.col(f"c_{name}")).otherwise(value).alias(name)
                for name, value in merged.items()
            ],
        )
    ).withColumn("batch_id", F.lit(batch_id).cast("long"))


def months_from_days(day_rows: DataFrame) -> DataFrame:
    """Monthly rollups derived from daily ones, where that is exact.

    Counts and sums add up and minima and maxima combine (exactly, as
    ``spark.exact.combine``), so those are exact; unique users do not add up across
    days, so a monthly row's ``uniques`` is null.
    """
    grouped = (
        with_legacy_stats(day_rows.where(F.col("granularity") == Granularity.DAY.value))
        .withColumn("bucket", F.date_trunc(Granularity.MONTH.value, F.col("bucket")))
        .groupBy("project_id", "name", "metric", "bucket", "category")
        .agg(
            F.sum("count").alias("count"),
            F.lit(None).alias("uniques"),
            *[F.collect_list(name).alias(f"{name}_parts") for name in STATS],
        )
        .select(
            "project_id",
            "name",
            "metric",
            "bucket",
            "category",
            "count",
            "uniques",
            *_exact_stats(*[F.col(f"{name}_parts") for name in STATS]),
        )
        .withColumn("granularity", F.lit(Granularity.MONTH.value))
        .withColumn("period", F.date_format("bucket", period_spark_format(Granularity.MONTH)))
    )
    return _typed(grouped)
