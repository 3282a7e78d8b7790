"""The aggregation job: Kafka offsets -> raw events and exact rollups in Cassandra.

One run reads a fixed offset range (``spark.offsets.OffsetRange``) and:

1. parses the records; records that are not events go to the DLQ topic with the reason;
2. keeps one copy of each (project_id, event_id), the one at the lowest offset;
3. reads the stored raw events of every (project, name, day) the batch touches, and
   drops the batch's events already stored there (redeliveries, reruns);
4. writes the new raw events;
5. recomputes the rollups of every touched day, and of every touched hour, from the
   stored plus new events of those days, and overwrites them.

Rollups are a pure function of the raw events of their bucket, and raw events are
upserts keyed by event_id, so rerunning any range, after a crash at any point,
never changes a number; late events simply make their bucket touched again. The
caller stores the range's end offsets only after ``run`` returns.

Usage: ``python -m spark.jobs.aggregate --keyspace K [--bootstrap H:P] [--prefix P]``
(reads from the earliest offsets; the Django side keeps offsets between runs).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from spark.envelopes import EVENT_COLUMNS, invalid_records, parse_records, valid_events
from spark.offsets import OffsetRange, plan_range
from spark.rollups import compute_rollups

CASSANDRA = "org.apache.spark.sql.cassandra"
RAW_EVENTS_TABLE = "raw_events"
ROLLUPS_TABLE = "rollups"
PARTITION_KEY = ["project_id", "name", "day"]

Progress = Callable[[str], None]


@dataclass
class AggregationResult:
    """What one run did; ``day_partitions`` lists the daily-rollup partitions it wrote
    (project_id, name, metric, period) for the second-stage job."""

    records_read: int = 0
    invalid: int = 0
    duplicates: int = 0
    events_written: int = 0
    rollup_rows: int = 0
    day_partitions: list[tuple[str, str, str, str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def dedupe_batch(events: DataFrame) -> DataFrame:
    """One row per (project_id, event_id): the copy at the lowest (topic, partition, offset).

    Choosing by position, not arbitrarily, makes a rerun pick the same copy.
    """
    first = Window.partitionBy("project_id", "event_id").orderBy("topic", "partition", "offset")
    return (
        events.withColumn("_copy", F.row_number().over(first))
        .where(F.col("_copy") == 1)
        .drop("_copy")
    )


def touched_partitions(batch: DataFrame) -> DataFrame:
    """The (project_id, name, day) raw-event partitions ``batch`` falls into."""
    return batch.select(*PARTITION_KEY).distinct()


def new_events(batch: DataFrame, stored: DataFrame) -> DataFrame:
    """The events of ``batch`` whose (project_id, event_id) is not in ``stored``."""
    return batch.join(
        stored.select("project_id", "event_id"), ["project_id", "event_id"], "left_anti"
    )


def in_touched_hours(events: DataFrame, batch: DataFrame) -> DataFrame:
    """The events of ``events`` in an hour bucket (project, name, hour) that ``batch`` touches."""

    def hour(df: DataFrame) -> DataFrame:
        return df.withColumn("_hour", F.date_trunc("hour", F.col("event_time")))

    hours = hour(batch).select("project_id", "name", "_hour").distinct()
    return (
        hour(events)
        .join(F.broadcast(hours), ["project_id", "name", "_hour"], "left_semi")
        .drop("_hour")
    )


def rollups_for(all_events: DataFrame, batch: DataFrame) -> DataFrame:
    """Daily rollups of every touched day plus hourly rollups of every touched hour.

    ``all_events`` must hold every event of the touched days (stored and new).
    """
    hourly = compute_rollups(in_touched_hours(all_events, batch), ("hour",))
    daily = compute_rollups(all_events, ("day",))
    return hourly.unionByName(daily)


# --- I/O ---------------------------------------------------------------------------


def read_range(spark: SparkSession, *, bootstrap: str, offsets: OffsetRange) -> DataFrame:
    """The Kafka records of ``offsets``, split into at least ``defaultParallelism`` tasks."""
    reader = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("minPartitions", str(spark.sparkContext.defaultParallelism * 2))
        .option("failOnDataLoss", "false")
    )
    for key, value in offsets.spark_options().items():
        reader = reader.option(key, value)
    return reader.load()


def cassandra_table(spark: SparkSession, *, keyspace: str, table: str) -> DataFrame:
    """A Cassandra table; a join on its full partition key reads only those partitions."""
    return (
        spark.read.format(CASSANDRA)
        .options(keyspace=keyspace, table=table, directJoinSetting="on")
        .load()
    )


def read_stored(spark: SparkSession, touched: DataFrame, *, keyspace: str) -> DataFrame:
    """Every stored raw event of the ``touched`` partitions (a direct join on the partition key)."""
    table = cassandra_table(spark, keyspace=keyspace, table=RAW_EVENTS_TABLE)
    return touched.join(table, PARTITION_KEY).select(*EVENT_COLUMNS)


def write_table(rows: DataFrame, *, keyspace: str, table: str) -> None:
    """Upsert ``rows`` into a Cassandra table (null cells are not written)."""
    rows.write.format(CASSANDRA).mode("append").options(
        keyspace=keyspace, table=table, **{"spark.cassandra.output.ignoreNulls": "true"}
    ).save()


def write_dlq(invalid: DataFrame, *, bootstrap: str, topic: str) -> None:
    """Send invalid records to the DLQ topic as JSON naming their origin and the reason."""
    payload = F.to_json(F.struct("reason", "topic", "partition", "offset", "value"))
    invalid.select(
        F.concat_ws(":", "topic", "partition", "offset").alias("key"), payload.alias("value")
    ).write.format("kafka").option("kafka.bootstrap.servers", bootstrap).option(
        "topic", topic
    ).save()


def run(
    spark: SparkSession,
    *,
    offsets: OffsetRange,
    bootstrap: str,
    keyspace: str,
    dlq_topic: str,
    progress: Progress = lambda _message: None,
) -> AggregationResult:
    """Aggregate the records of ``offsets``; see the module docstring for the steps."""
    result = AggregationResult(records_read=offsets.records)
    if result.records_read == 0:
        progress("no new records")
        return result
    persisted: list[DataFrame] = []

    def keep(df: DataFrame) -> DataFrame:
        persisted.append(df.persist(StorageLevel.MEMORY_AND_DISK))
        return df

    try:
        progress(f"reading {result.records_read} records")
        parsed = keep(parse_records(read_range(spark, bootstrap=bootstrap, offsets=offsets)))
        invalid = invalid_records(parsed)
        result.invalid = invalid.count()
        if result.invalid:
            progress(f"sending {result.invalid} invalid records to {dlq_topic}")
            write_dlq(invalid, bootstrap=bootstrap, topic=dlq_topic)

        batch = keep(dedupe_batch(valid_events(parsed)).select(*EVENT_COLUMNS))
        progress("reading stored events of the touched days")
        stored = keep(read_stored(spark, touched_partitions(batch), keyspace=keyspace))
        stored.count()
        new = keep(new_events(batch, stored))
        result.events_written = new.count()
        result.duplicates = result.records_read - result.invalid - result.events_written

        progress(f"writing {result.events_written} new events")
        write_table(new, keyspace=keyspace, table=RAW_EVENTS_TABLE)

        # The union is deduplicated again so that even a recomputed ``stored`` (which
        # would now include ``new``) cannot count an event twice.
        all_events = stored.unionByName(new).dropDuplicates(["project_id", "event_id"])
        rollups = keep(rollups_for(all_events, batch))
        result.rollup_rows = rollups.count()
        progress(f"writing {result.rollup_rows} rollup rows")
        write_table(rollups, keyspace=keyspace, table=ROLLUPS_TABLE)
        result.day_partitions = [
            (row.project_id, row.name, row.metric, row.period)
            for row in rollups.where(F.col("granularity") == "day")
            .select("project_id", "name", "metric", "period")
            .distinct()
            .collect()
        ]
        return result
    finally:
        for df in persisted:
            df.unpersist()


def main(argv: list[str] | None = None) -> None:
    from spark.session import build_session

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keyspace", required=True)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--prefix", default="analytics.events")
    parser.add_argument("--master", default=os.environ.get("SPARK_MASTER_URL", "local[2]"))
    parser.add_argument("--jars-dir", default=os.environ.get("SPARK_JARS_DIR", "var/jars/spark"))
    args = parser.parse_args(argv)
    topics = [f"{args.prefix}.{category}" for category in ("web", "mobile", "server", "other")]
    offsets = plan_range(bootstrap=args.bootstrap.split(","), topics=topics, committed={})
    spark = build_session(app_name="aggregate", master=args.master, jars_dir=Path(args.jars_dir))
    try:
        result = run(
            spark,
            offsets=offsets,
            bootstrap=args.bootstrap,
            keyspace=args.keyspace,
            dlq_topic=f"{args.prefix}.dlq",
            progress=print,
        )
        print(json.dumps({"end_offsets": offsets.end, **result.as_dict()}))
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
