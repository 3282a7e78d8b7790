"""Copy event envelopes from a Kafka topic into Cassandra's ``raw_events`` table.

The transform is pure (``transform_envelopes``); ``main`` does the I/O: a batch
read of the topic between two offsets through Spark's Kafka source, and an
append through the Spark Cassandra connector. Writes are upserts keyed by
``event_id``, so rerunning over the same offsets changes nothing.

Usage: ``python -m spark.jobs.store_raw_events --topic T --keyspace K [--bootstrap H:P]``
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

ENVELOPE_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType()),
        T.StructField("project_id", T.StringType()),
        T.StructField("name", T.StringType()),
        T.StructField("category", T.StringType()),
        T.StructField("distinct_id", T.StringType()),
        T.StructField("timestamp", T.StringType()),
        T.StructField("received_at", T.StringType()),
        T.StructField("properties", T.StringType()),
        T.StructField("context", T.StringType()),
        T.StructField("source", T.StringType()),
    ]
)

RAW_EVENT_COLUMNS = [
    "project_id",
    "name",
    "day",
    "event_time",
    "event_id",
    "category",
    "distinct_id",
    "received_at",
    "properties",
    "context",
    "source",
]


def transform_envelopes(records: DataFrame) -> DataFrame:
    """Kafka records (binary ``value``) -> rows of ``raw_events``, one per event_id.

    Records whose value is not a JSON envelope with event_id, project_id, name and
    a parseable timestamp are dropped here (the aggregation job routes them to
    the DLQ). ``properties`` and ``context`` are kept as JSON text.
    """
    raw = F.col("value").cast("string")
    parsed = records.select(
        F.from_json(raw, ENVELOPE_SCHEMA).alias("e"),
        F.get_json_object(raw, "$.properties").alias("properties_json"),
        F.get_json_object(raw, "$.context").alias("context_json"),
    )
    rows = parsed.select(
        F.col("e.event_id").alias("event_id"),
        F.col("e.project_id").alias("project_id"),
        F.col("e.name").alias("name"),
        F.coalesce(F.col("e.category"), F.lit("other")).alias("category"),
        F.col("e.distinct_id").alias("distinct_id"),
        F.to_timestamp(F.col("e.timestamp")).alias("event_time"),
        F.to_timestamp(F.col("e.received_at")).alias("received_at"),
        F.coalesce(F.col("properties_json"), F.lit("{}")).alias("properties"),
        F.coalesce(F.col("context_json"), F.lit("{}")).alias("context"),
        F.col("e.source").alias("source"),
    )
    valid = rows.where(
        F.col("event_id").isNotNull()
        & F.col("project_id").isNotNull()
        & F.col("name").isNotNull()
        & F.col("event_time").isNotNull()
    )
    return (
        valid.dropDuplicates(["project_id", "event_id"])
        .withColumn("day", F.to_date(F.col("event_time")))
        .select(*RAW_EVENT_COLUMNS)
    )


def read_topic(spark, *, bootstrap: str, topic: str) -> DataFrame:
    """Batch-read every record of ``topic`` (earliest to latest offsets)."""
    return (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .load()
    )


def write_raw_events(rows: DataFrame, *, keyspace: str, table: str = "raw_events") -> None:
    """Upsert rows into Cassandra through the Spark Cassandra connector."""
    (
        rows.write.format("org.apache.spark.sql.cassandra")
        .mode("append")
        .options(keyspace=keyspace, table=table)
        .save()
    )


def run(spark, *, bootstrap: str, topic: str, keyspace: str) -> int:
    """Read ``topic``, transform, write; return the number of rows written."""
    rows = transform_envelopes(read_topic(spark, bootstrap=bootstrap, topic=topic)).cache()
    count = rows.count()
    write_raw_events(rows, keyspace=keyspace)
    rows.unpersist()
    return count


def main(argv: list[str] | None = None) -> None:
    from spark.session import build_session

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", required=True)
    parser.add_argument("--keyspace", required=True)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--master", default=os.environ.get("SPARK_MASTER_URL", "local[2]"))
    parser.add_argument("--jars-dir", default=os.environ.get("SPARK_JARS_DIR", "var/jars/spark"))
    args = parser.parse_args(argv)
    spark = build_session(
        app_name="store-raw-events", master=args.master, jars_dir=Path(args.jars_dir)
    )
    try:
        written = run(spark, bootstrap=args.bootstrap, topic=args.topic, keyspace=args.keyspace)
        print(f"rows written: {written}")
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
