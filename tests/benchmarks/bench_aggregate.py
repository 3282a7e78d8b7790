"""Aggregation throughput benchmark (on demand; needs `make services`).

A backlog of N events (default 1,000,000) is written to fresh Kafka topics, then
one aggregation run on a warm SparkSession turns it into raw events and rollups in
a separate keyspace (``bench_analytics``). The fixed overhead of a run is measured
separately: the same warm session aggregating 100 new events. Two baselines from the
same run: a plain Spark count over the same topics, and the store's write limit (the
rows the run wrote, written again from memory by the connector, with no lookups).

Run: ``.venv/bin/python -m tests.benchmarks.bench_aggregate [N]``
"""

from __future__ import annotations

import argparse
import time
import uuid
from pathlib import Path

from tests.benchmarks.isolation import isolate
from tests.benchmarks.report import Figure, figures_argument, publish

PREFIX = isolate()


def backlog(spark, *, start: int, count: int, project: str, days: int = 3, prefix: str = PREFIX):
    """``count`` envelopes as Kafka rows (topic, key, value): 20 event names, 4
    categories, 10,000 users, ``days`` days from 2026-11-17, a numeric ``amount``."""
    from pyspark.sql import functions as F

    n = F.col("id")
    when = F.timestamp_seconds(F.lit(1_795_000_000) + (n * 37) % (days * 86400))
    amount = ((n * 13) % 10_000) / 100
    category = F.element_at(
        F.array(*map(F.lit, ["web", "mobile", "server", "other"])), (n % 4 + 1).cast("int")
    )
    envelope = F.struct(
        F.concat(F.lit(project + "-"), n.cast("string")).alias("event_id"),
        F.lit(project).alias("project_id"),
        F.concat(F.lit("event-"), (n % 20).cast("string")).alias("name"),
        category.alias("category"),
        F.concat(F.lit("user-"), ((n * 7919) % 10_000).cast("string")).alias("distinct_id"),
        F.date_format(when, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").alias("timestamp"),
        F.date_format(when, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").alias("received_at"),
        F.struct(amount.alias("amount"), F.lit("pro").alias("plan")).alias("properties"),
        F.struct(F.lit("bench").alias("library")).alias("context"),
        F.lit("native").alias("source"),
        F.struct(amount.alias("amount")).alias("numeric_properties"),
    )
    return spark.range(start, start + count).select(
        F.concat(F.lit(prefix + "."), category).alias("topic"),
        F.concat(F.lit(project + ":"), n.cast("string")).alias("key"),
        F.to_json(envelope).alias("value"),
    )


def produce(spark, rows) -> None:
    from django.conf import settings

    rows.write.format("kafka").option(
        "kafka.bootstrap.servers", ",".join(settings.KAFKA_BOOTSTRAP_SERVERS)
    ).save()


def plain_spark_count(spark) -> int:
    """The baseline: a plain Spark job over the same topics, counting events per name and
    hour (one JSON field lookup each; no dedupe, no uniques, no Cassandra)."""
    from django.conf import settings
    from pyspark.sql import functions as F

    value = F.col("value").cast("string")
    counts = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", ",".join(settings.KAFKA_BOOTSTRAP_SERVERS))
        .option("subscribePattern", PREFIX.replace(".", "\\.") + "\\..*")
        .option("startingOffsets", "earliest")
        .load()
        .select(
            F.get_json_object(value, "$.name").alias("name"),
            F.substring(F.get_json_object(value, "$.timestamp"), 1, 13).alias("hour"),
        )
        .groupBy("name", "hour")
        .count()
        .collect()
    )
    return sum(row["count"] for row in counts)


FLOOR_KEYSPACE = "bench_store_floor"


def store_write_floor(spark, project: str) -> tuple[float, int]:
    """The store's own write limit, from the same run: every row the run wrote for
    ``project`` (raw events, event ids, bucket users, rollups), read back and held in
    memory, then written by the connector into empty copies of the tables in
    ``FLOOR_KEYSPACE``, with no lookups. Returns (seconds of the writes, rows)."""
    from django.db import connections
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from insights import store
    from spark.io import CASSANDRA
    from spark.schema import Table

    keyspace = store.keyspace()
    session = connections["cassandra"].connection.session
    session.execute(
        f"CREATE KEYSPACE IF NOT EXISTS {FLOOR_KEYSPACE} WITH replication = "
        "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    tables = list(Table)
    for table in tables:
        session.execute(f"DROP TABLE IF EXISTS {FLOOR_KEYSPACE}.{table}", timeout=120)
        definition = session.cluster.metadata.keyspaces[keyspace].tables[table].as_cql_query()
        session.execute(definition.replace(f"{keyspace}.", f"{FLOOR_KEYSPACE}.", 1), timeout=120)
    prepared = {}
    for table in tables:
        rows = (
            spark.read.format(CASSANDRA)
            .options(keyspace=keyspace, table=table)
            .load()
            .where(F.col("project_id") == project)
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        prepared[table] = (rows, rows.count())
    started = time.perf_counter()
    for table, (rows, _count) in prepared.items():
        rows.write.format(CASSANDRA).mode("append").options(
            keyspace=FLOOR_KEYSPACE, table=table
        ).save()
    elapsed = time.perf_counter() - started
    for rows, _count in prepared.values():
        rows.unpersist()
    return elapsed, sum(count for _rows, count in prepared.values())


def peak_rss_mib(spark) -> tuple[float, float]:
    """Peak RSS so far of this process (the driver's Python side) and of the Spark JVM
    (the driver and, with ``local[N]``, its executors), in MiB."""
    import resource

    python = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    jvm_pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    status = Path(f"/proc/{jvm_pid}/status").read_text()
    hwm = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return python, int(hwm.split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=1_000_000, help="backlog size")
    parser.add_argument(
        "--small-only", action="store_true", help="only the warm 100-event runs, no backlog"
    )
    figures_argument(parser)
    args = parser.parse_args()
    count = args.count
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import override_settings

    from insights.aggregation import run_aggregation
    from insights.spark_runtime import get_session

    call_command("migrate", verbosity=0)
    call_command("sync_cassandra", verbosity=0)
    call_command("create_topics", verbosity=0)  # a cluster creates no topic on first use
    spark = get_session()
    project = uuid.uuid4().hex

    produce(spark, backlog(spark, start=0, count=100, project=project))
    run_aggregation()  # warms the session, as the aggregation worker is between runs

    overheads = {}
    for on_driver, start in ((False, 100), (True, 200)):  # the Spark path, then what ships
        produce(spark, backlog(spark, start=start, count=100, project=project))
        with override_settings(AGGREGATION_SMALL_BATCHES_ON_DRIVER=on_driver):
            started = time.perf_counter()
            small = run_aggregation()
            overheads[on_driver] = time.perf_counter() - started
        assert small.events_written == 100
    overhead = overheads[True]
    started = time.perf_counter()
    spark.range(1000).count()
    trivial = time.perf_counter() - started
    print(f"warm 100-event run: {overhead:.2f} s on the driver, {overheads[False]:.2f} s on Spark")
    if args.small_only:
        return

    print(f"writing a backlog of {count:,} events to Kafka ...", flush=True)
    produce(spark, backlog(spark, start=300, count=count, project=project))
    started = time.perf_counter()
    big = run_aggregation(
        progress=lambda m: print(f"  [{time.perf_counter() - started:6.1f}s] {m}")
    )
    elapsed = time.perf_counter() - started
    assert big.events_written == count, big.events_written
    python_rss, jvm_rss = peak_rss_mib(spark)
    print(
        f"peak RSS after the run: driver's Python process {python_rss:,.0f} MiB, "
        f"Spark JVM (driver and local executors) {jvm_rss:,.0f} MiB",
        flush=True,
    )

    started = time.perf_counter()
    baseline_events = plain_spark_count(spark)
    baseline = time.perf_counter() - started
    assert baseline_events == count + 300, baseline_events
    floor, floor_rows = store_write_floor(spark, project)
    print(f"store floor: {floor_rows:,} rows written again in {floor:.1f} s", flush=True)
    print(f"rollup rows written: {big.rollup_rows:,} (+{big.derived_rows:,} monthly)")
    publish(
        [
            Figure(
                "aggregation",
                f"backlog of {count:,} events, one run",
                elapsed,
                baseline,
                "plain Spark count by name and hour over the same topics",
                "s",
                "≤ 60 s for 1,000,000",
            ),
            Figure(
                "aggregation",
                f"backlog of {count:,} events, one run, against the store's write limit",
                elapsed,
                floor,
                f"the same {floor_rows:,} rows written by the connector from memory, no lookups",
                "s",
                "≤ 1.3 times the floor",
            ),
            Figure(
                "aggregation",
                "fixed overhead of a run (100 events, warm session)",
                overhead,
                trivial,
                "trivial Spark action on the same session",
                "s",
                "≤ 1.5 s",
            ),
            Figure(
                "aggregation",
                "fixed overhead of a run (100 events, warm session), Spark path",
                overheads[False],
                trivial,
                "trivial Spark action on the same session",
                "s",
            ),
        ],
        args.figures_json,
    )


if __name__ == "__main__":
    main()
