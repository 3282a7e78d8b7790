"""The Spark jobs' I/O: Kafka offset-range reads, Cassandra table reads and direct-join
lookups, Cassandra writes with a write timestamp, and the DLQ topic.

Every function takes what it reads or writes as arguments (bootstrap servers,
keyspace, table, topic); nothing here reads settings or the environment.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark.envelopes import RECORD_POSITION
from spark.offsets import OffsetRange

CASSANDRA = "org.apache.spark.sql.cassandra"

# Above this many records, Kafka partitions are split so every core gets work.
SPLIT_ABOVE_RECORDS = 100_000
# Up to this many records, the driver reads them itself: Spark's Kafka source costs
# about 0.3 s per partition to set up, which would dominate a small run; near 10,000
# records both paths cost the same.
DRIVER_READ_MAX_RECORDS = 10_000
# ... and up to this many bytes of values: the bound on what a small run holds on the
# driver (10,000 records of up to 32 KB would otherwise be 320 MB).
DRIVER_READ_MAX_BYTES = 64 * 1024 * 1024
KAFKA_RECORD_SCHEMA = "topic string, partition int, offset long, value binary"


def fetch_if_small(
    *, bootstrap: str, offsets: OffsetRange, max_records: int, max_bytes: int
) -> list[KafkaRow] | None:
    """The records of ``offsets`` read on the driver if they number at most
    ``max_records`` and their values sum to at most ``max_bytes``; else None."""
    if offsets.records > max_records:
        return None
    return fetch_on_driver(bootstrap=bootstrap, offsets=offsets, max_bytes=max_bytes)


KafkaRow = tuple[str, int, int, bytes | None]  # value is None for a tombstone


def fetch_on_driver(
    *, bootstrap: str, offsets: OffsetRange, max_bytes: int
) -> list[KafkaRow] | None:
    """The Kafka records of ``offsets`` as (topic, partition, offset, value) rows, read
    with kafka-python on the driver; None as soon as their values pass ``max_bytes``
    (what was read is dropped, so the driver holds at most about that much)."""
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
    rows: list[KafkaRow] = []
    size = 0
    try:
        consumer.assign(list(wanted))
        for tp, (start, _end) in wanted.items():
            consumer.seek(tp, start)
        remaining = set(wanted)
        while remaining:
            for tp, messages in consumer.poll(timeout_ms=1000).items():
                end = wanted[tp][1]
                kept = [m for m in messages if m.offset < end]
                size += sum(len(m.value) for m in kept if m.value is not None)
                if size > max_bytes:
                    return None
                rows.extend((tp.topic, tp.partition, m.offset, m.value) for m in kept)
            # Checked for every partition, not only those that returned records: a
            # range may end on records a poll never returns (transaction markers).
            for tp in list(remaining):
                position = consumer.position(tp)
                if position is None:  # seek() above set it; only a timeout leaves it unknown
                    raise RuntimeError(f"Kafka consumer has no position for {tp}")
                if position >= wanted[tp][1]:
                    consumer.pause(tp)
                    remaining.discard(tp)
    finally:
        consumer.close()
    return rows


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
    rows: DataFrame,
    *,
    keyspace: str,
    table: str,
    timestamp: int | None = None,
    partition_key: Sequence[str] = (),
    ttl_column: str | None = None,
) -> None:
    """Upsert ``rows`` into a Cassandra table (null cells are not written).

    With ``partition_key`` (the table's), each Spark partition's rows are sorted by it
    first, so the connector's batches each hold rows of one Cassandra partition.

    ``timestamp`` (microseconds) is the cells' write time (``USING TIMESTAMP``): a cell
    keeps the value of the write with the highest timestamp, whatever order writes
    arrive in, which is how a fenced run's late writes lose to a newer run's.
    ``ttl_column`` names a column of ``rows`` holding each row's TTL (seconds, 0: none).
    """
    options = {"spark.cassandra.output.ignoreNulls": "true"}
    if partition_key:
        rows = rows.sortWithinPartitions(*partition_key)
    if timestamp is not None:
        options["spark.cassandra.output.timestamp"] = str(timestamp)
    if ttl_column is not None:
        options["ttl"] = ttl_column
    rows.write.format(CASSANDRA).mode("append").options(
        keyspace=keyspace, table=table, **options
    ).save()


def write_dlq(invalid: DataFrame, *, bootstrap: str, topic: str) -> None:
    """Send invalid records to the DLQ topic as JSON naming their origin and the reason."""
    payload = F.to_json(F.struct("reason", *RECORD_POSITION, "value"))
    invalid.select(
        F.concat_ws(":", *RECORD_POSITION).alias("key"), payload.alias("value")
    ).write.format("kafka").option("kafka.bootstrap.servers", bootstrap).option(
        "topic", topic
    ).save()
