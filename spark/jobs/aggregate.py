"""The aggregation job: a Kafka offset range -> raw events and exact rollups in Cassandra.

One run processes one batch: a fixed offset range (``spark.offsets.OffsetRange``)
with a ``batch_id``. It:

1. parses the records; records that are not events go to the DLQ topic with the reason;
2. keeps one copy of each (project_id, event_id), the one at the lowest offset;
3. looks the event ids up in ``event_ids`` and keeps the events not stored before;
4. writes them to ``event_ids`` and ``raw_events``;
5. looks their users up in ``bucket_users`` (per hour and day bucket) to find the
   users new to each bucket, and writes those;
6. adds the new events' counts, new users and property stats to the stored rollups.

Everything written carries the ``batch_id``, and anything already stamped with the
current batch counts as not yet applied for steps 3 and 5 and as already applied
for step 6. So rerunning a batch (same range, same id) after a crash at any point
gives exactly the numbers one clean run would have given; a later batch holding
the same events (a redelivery, a replay) adds nothing. Cost grows with the batch,
not with what is already stored, so small frequent runs stay fast.

Usage (``manage.py aggregate`` is the usual way: it keeps offsets and batch ids)::

    python -m spark.jobs.aggregate --keyspace K --batch-id N [--start JSON] [--end JSON]

``--start`` defaults to the earliest offsets and ``--end`` to the latest; the run
prints its range and result as JSON. A batch id must be new, unless the run redoes
that batch's exact range.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from spark.envelopes import invalid_records, parse_records, valid_events
from spark.offsets import OffsetRange, plan_range
from spark.rollups import delta_rollups, members, merge_rollups
from spark.schema import (
    BUCKET_USER_KEY,
    CATEGORIES,
    EVENT_ID_COLUMNS,
    RAW_EVENT_COLUMNS,
    ROLLUP_KEY,
    STORED_ROLLUP_COLUMNS,
    Granularity,
    Table,
)

CASSANDRA = "org.apache.spark.sql.cassandra"

Progress = Callable[[str], None]
# Called right before each write: raises to stop the run (it no longer holds its
# lease), or returns the write timestamp (microseconds) the write must carry, None
# for Cassandra's own (the time of the write).
WriteGuard = Callable[[], int | None]


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

    Choosing by position, not arbitrarily, makes a rerun of the batch pick the same copy.
    """
    first = Window.partitionBy("project_id", "event_id").orderBy("topic", "partition", "offset")
    return (
        events.withColumn("_copy", F.row_number().over(first))
        .where(F.col("_copy") == 1)
        .drop("_copy")
    )


def not_seen(rows: DataFrame, seen: DataFrame, *, key: list[str], batch_id: int) -> DataFrame:
    """The rows of ``rows`` whose ``key`` is not in ``seen`` from a batch other than ``batch_id``.

    ``seen`` has ``key`` and ``batch_id`` (what is stored); rows stored by this same
    batch (an earlier, interrupted attempt) still count as unseen.
    """
    earlier = seen.where(F.col("batch_id") != F.lit(batch_id)).select(*key)
    return rows.join(earlier, key, "left_anti")


# --- I/O ---------------------------------------------------------------------------


# Above this many records, Kafka partitions are split so every core gets work.
SPLIT_ABOVE_RECORDS = 100_000
# Up to this many records, the driver reads them itself: Spark's Kafka source costs
# about 0.3 s per partition to set up, which would dominate a small run.
DRIVER_READ_MAX_RECORDS = 20_000
KAFKA_RECORD_SCHEMA = "topic string, partition int, offset long, value binary"


def read_on_driver(spark: SparkSession, *, bootstrap: str, offsets: OffsetRange) -> DataFrame:
    """The Kafka records of ``offsets`` (topic, partition, offset, value), read with
    kafka-python on the driver; meant for small ranges."""
    from kafka import KafkaConsumer, TopicPartition

    wanted = {
        TopicPartition(topic, int(partition)): (offsets.start[topic][partition], end)
        for topic, partitions in offsets.end.items()
        for partition, end in partitions.items()
        if end > offsets.start[topic][partition]
    }
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","), enable_auto_commit=False, group_id=None
    )
    rows = []
    try:
        consumer.assign(list(wanted))
        for tp, (start, _end) in wanted.items():
            consumer.seek(tp, start)
        remaining = set(wanted)
        while remaining:
            for tp, messages in consumer.poll(timeout_ms=1000).items():
                end = wanted[tp][1]
                rows.extend(
                    (tp.topic, tp.partition, m.offset, m.value) for m in messages if m.offset < end
                )
                if consumer.position(tp) >= end:
                    consumer.pause(tp)
                    remaining.discard(tp)
    finally:
        consumer.close()
    return spark.createDataFrame(rows, KAFKA_RECORD_SCHEMA)


def read_range(spark: SparkSession, *, bootstrap: str, offsets: OffsetRange) -> DataFrame:
    """The Kafka records of ``offsets`` through Spark's Kafka source (for big ranges)."""
    reader = spark.read.format("kafka").option("kafka.bootstrap.servers", bootstrap)
    if offsets.records > SPLIT_ABOVE_RECORDS:
        reader = reader.option("minPartitions", str(spark.sparkContext.defaultParallelism * 2))
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


def lookup(spark: SparkSession, keys: DataFrame, *, keyspace: str, table: str) -> DataFrame:
    """The stored rows of ``table`` matching ``keys`` (whose columns are part of the
    table's primary key, the whole partition key included): a direct join."""
    stored = cassandra_table(spark, keyspace=keyspace, table=table)
    return keys.join(stored, keys.columns)


def write_table(
    rows: DataFrame, *, keyspace: str, table: str, timestamp: int | None = None
) -> None:
    """Upsert ``rows`` into a Cassandra table (null cells are not written).

    ``timestamp`` (microseconds) is the cells' write time (``USING TIMESTAMP``): a cell
    keeps the value of the write with the highest timestamp, whatever order writes
    arrive in, which is how a fenced run's late writes lose to a newer run's.
    """
    options = {"spark.cassandra.output.ignoreNulls": "true"}
    if timestamp is not None:
        options["spark.cassandra.output.timestamp"] = str(timestamp)
    rows.write.format(CASSANDRA).mode("append").options(
        keyspace=keyspace, table=table, **options
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
    spark: SparkSession | None,
    *,
    offsets: OffsetRange,
    batch_id: int,
    bootstrap: str,
    keyspace: str,
    dlq_topic: str,
    driver_read_max_records: int = DRIVER_READ_MAX_RECORDS,
    progress: Progress = lambda _message: None,
    guard: WriteGuard = lambda: None,
) -> AggregationResult:
    """Aggregate the records of ``offsets`` as batch ``batch_id``; see the module docstring.

    ``guard`` is called right before every write (DLQ, event ids, raw events, bucket
    users, rollups) and gives each Cassandra write its timestamp.
    """
    result = AggregationResult(records_read=offsets.records)
    if result.records_read == 0:
        progress("no new records")
        return result

    def keep(df: DataFrame) -> DataFrame:
        """Materialise ``df`` now and cut its lineage, so later steps neither recompute
        it nor re-plan everything before it."""
        return df.localCheckpoint(eager=True)

    def stored(keys: DataFrame, table: str) -> DataFrame:
        return lookup(spark, keys, keyspace=keyspace, table=table)

    progress(f"reading {result.records_read} records")
    reader = read_on_driver if result.records_read <= driver_read_max_records else read_range
    parsed = keep(parse_records(reader(spark, bootstrap=bootstrap, offsets=offsets)))
    invalid = invalid_records(parsed)
    result.invalid = invalid.count()
    if result.invalid:
        progress(f"sending {result.invalid} invalid records to {dlq_topic}")
        guard()
        write_dlq(invalid, bootstrap=bootstrap, topic=dlq_topic)

    batch = dedupe_batch(valid_events(parsed)).select(*RAW_EVENT_COLUMNS)
    ids = batch.select("project_id", "event_id")
    seen = stored(ids, Table.EVENT_IDS).select("project_id", "event_id", "batch_id")
    new = keep(not_seen(batch, seen, key=["project_id", "event_id"], batch_id=batch_id))
    result.events_written = new.count()
    result.duplicates = result.records_read - result.invalid - result.events_written
    stamped = new.withColumn("batch_id", F.lit(batch_id).cast("long"))

    progress(f"writing {result.events_written} new events")
    write_table(
        stamped.select(*EVENT_ID_COLUMNS),
        keyspace=keyspace,
        table=Table.EVENT_IDS,
        timestamp=guard(),
    )
    write_table(stamped, keyspace=keyspace, table=Table.RAW_EVENTS, timestamp=guard())

    progress("finding users new to their buckets")
    batch_members = keep(members(new))
    known = stored(batch_members, Table.BUCKET_USERS).select(*BUCKET_USER_KEY, "batch_id")
    new_members = keep(not_seen(batch_members, known, key=BUCKET_USER_KEY, batch_id=batch_id))
    write_table(
        new_members.withColumn("batch_id", F.lit(batch_id).cast("long")),
        keyspace=keyspace,
        table=Table.BUCKET_USERS,
        timestamp=guard(),
    )

    delta = keep(delta_rollups(new, new_members))
    current = stored(delta.select(*ROLLUP_KEY), Table.ROLLUPS)
    current = current.select(*STORED_ROLLUP_COLUMNS, "batch_id")
    merged = keep(merge_rollups(delta, current, batch_id=batch_id))
    result.rollup_rows = merged.count()
    progress(f"writing {result.rollup_rows} rollup rows")
    write_table(merged, keyspace=keyspace, table=Table.ROLLUPS, timestamp=guard())
    result.day_partitions = [
        (row.project_id, row.name, row.metric, row.period)
        for row in merged.where(F.col("granularity") == Granularity.DAY.value)
        .select("project_id", "name", "metric", "period")
        .distinct()
        .collect()
    ]
    return result


def main(argv: list[str] | None = None) -> None:
    from spark.session import build_session

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keyspace", required=True)
    parser.add_argument("--batch-id", type=int, required=True)
    parser.add_argument("--start", type=json.loads, help='{"topic": {"0": offset}}')
    parser.add_argument("--end", type=json.loads, help='{"topic": {"0": offset}}')
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--prefix", default="analytics.events")
    parser.add_argument("--master", default=os.environ.get("SPARK_MASTER_URL", "local[2]"))
    parser.add_argument("--jars-dir", default=os.environ.get("SPARK_JARS_DIR", "var/jars/spark"))
    args = parser.parse_args(argv)
    topics = [f"{args.prefix}.{category}" for category in CATEGORIES]
    offsets = plan_range(
        bootstrap=args.bootstrap.split(","), topics=topics, committed=args.start or {}
    )
    if args.end is not None:
        offsets = OffsetRange(start=offsets.start, end=args.end)
    spark = build_session(app_name="aggregate", master=args.master, jars_dir=Path(args.jars_dir))
    try:
        result = run(
            spark,
            offsets=offsets,
            batch_id=args.batch_id,
            bootstrap=args.bootstrap,
            keyspace=args.keyspace,
            dlq_topic=f"{args.prefix}.dlq",
            progress=print,
        )
        print(json.dumps({"start": offsets.start, "end": offsets.end, **result.as_dict()}))
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
