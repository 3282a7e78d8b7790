"""Raw-event retention: how long the stored copy of each event lives (a Cassandra TTL
written with it), counted from the event's timestamp.

A project keeping raw events ``days`` days stores an event whose timestamp is ``age``
old with a TTL of ``days`` days less ``age``; an event already older is not stored raw
(its id and its rollups are). Projects without a retention store events with TTL 0:
forever. Pure functions on rows and DataFrames, no Django.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

TTL_COLUMN = "ttl_seconds"  # a bind-marker name: no leading underscore
DAY_SECONDS = 86_400


def ttl_seconds(event_time: dt.datetime, days: int | None, *, now: dt.datetime) -> int | None:
    """The TTL of an event's raw copy (naive UTC datetimes): 0 (forever) without a
    retention, None when the event is already beyond it."""
    if days is None:
        return 0
    left = days * DAY_SECONDS - int((now - event_time).total_seconds())
    return left if left > 0 else None


def with_ttl_rows(
    events: list[dict[str, Any]], retention: Mapping[str, int], *, now: dt.datetime
) -> list[dict[str, Any]]:
    """The driver path's ``with_ttl``: the events still within their project's retention,
    each with its TTL in ``TTL_COLUMN``."""
    kept = []
    for event in events:
        ttl = ttl_seconds(event["event_time"], retention.get(event["project_id"]), now=now)
        if ttl is not None:
            kept.append({**event, TTL_COLUMN: ttl})
    return kept


def with_ttl(
    spark: SparkSession, events: DataFrame, retention: Mapping[str, int], *, now: dt.datetime
) -> DataFrame:
    """``events`` still within their project's retention (``retention``: project_id ->
    days), with their TTL in ``TTL_COLUMN``; ``now`` is naive UTC."""
    if not retention:
        return events.withColumn(TTL_COLUMN, F.lit(0))
    days = spark.createDataFrame(list(retention.items()), "_r_project string, _r_days int")
    age = F.lit(int(now.replace(tzinfo=dt.UTC).timestamp())) - F.unix_timestamp("event_time")
    left = F.col("_r_days") * F.lit(DAY_SECONDS) - age
    return (
        events.join(F.broadcast(days), F.col("project_id") == F.col("_r_project"), "left")
        .where(F.col("_r_days").isNull() | (left > 0))
        .withColumn(TTL_COLUMN, F.when(F.col("_r_days").isNull(), 0).otherwise(left).cast("int"))
        .drop("_r_project", "_r_days")
    )
