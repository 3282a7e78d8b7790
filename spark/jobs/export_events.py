"""The export job: raw events of some raw-events partitions -> Parquet or JSON Lines files.

One run writes one chunk of an export: the partitions (project_id, name, day) it is
given, read by a direct join (never a scan of the table), cut to [start, end), into
one directory, replacing what an interrupted run of the same chunk left there. So
an export resumed chunk by chunk writes every event exactly once.

Each event has the envelope's fields and Keen's reserved properties
(``transform_export``): ``event_id``, ``name``, ``project_id``, ``category``,
``distinct_id``, ``timestamp``, ``received_at``, ``source``, ``properties`` and
``context``, and ``keen`` (``timestamp``, ``id``, ``created_at``, ISO 8601 text). In
Parquet, ``properties`` and ``context`` are JSON text (events have no common schema);
in JSON Lines they are the objects themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from spark.io import lookup
from spark.schema import Table

FORMATS = ("parquet", "jsonl")
_ISO = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"


def _iso(column: str) -> Column:
    return F.date_format(F.col(column), _ISO)


def transform_export(raw: DataFrame) -> DataFrame:
    """Stored raw events (the ``raw_events`` columns) as exported events."""
    return raw.select(
        "event_id",
        "name",
        "project_id",
        "category",
        "distinct_id",
        F.col("event_time").alias("timestamp"),
        "received_at",
        "source",
        F.coalesce(F.col("properties"), F.lit("{}")).alias("properties"),
        F.coalesce(F.col("context"), F.lit("{}")).alias("context"),
        F.struct(
            _iso("event_time").alias("timestamp"),
            F.col("event_id").alias("id"),
            _iso("received_at").alias("created_at"),
        ).alias("keen"),
    )


def as_json_lines(events: DataFrame) -> DataFrame:
    """``transform_export`` rows as one JSON text per event (column ``value``), with
    ``properties`` and ``context`` embedded as the JSON objects they are."""
    envelope = F.to_json(
        F.struct(
            "event_id",
            "name",
            "project_id",
            "category",
            "distinct_id",
            _iso("timestamp").alias("timestamp"),
            _iso("received_at").alias("received_at"),
            "source",
            "keen",
        ),
        {"ignoreNullFields": "false"},
    )
    return events.withColumn("_envelope", envelope).select(
        F.concat(
            F.lit('{"properties":'),
            F.col("properties"),
            F.lit(',"context":'),
            F.col("context"),
            F.lit(","),
            F.expr("substring(_envelope, 2)"),
        ).alias("value")
    )


def run(
    spark: SparkSession,
    *,
    keyspace: str,
    partitions: Sequence[tuple[str, str, dt.date]],
    start: dt.datetime | None,
    end: dt.datetime | None,
    path: str,
    file_format: str,
) -> int:
    """Write the events of ``partitions`` with ``start <= timestamp < end`` (either
    bound optional; aware datetimes) to the directory ``path`` (a local path or a
    Hadoop URL), replacing it; return the number of events written."""
    if file_format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    keys = spark.createDataFrame(list(partitions), "project_id string, name string, day date")
    raw = lookup(spark, keys, keyspace=keyspace, table=Table.RAW_EVENTS)
    if start is not None:
        raw = raw.where(F.col("event_time") >= F.lit(start))
    if end is not None:
        raw = raw.where(F.col("event_time") < F.lit(end))
    events = transform_export(raw).orderBy("timestamp", "event_id").persist()
    try:
        written = events.count()
        if file_format == "parquet":
            events.coalesce(1).write.mode("overwrite").parquet(path)
        else:
            as_json_lines(events).coalesce(1).write.mode("overwrite").text(path)
        return written
    finally:
        events.unpersist()
