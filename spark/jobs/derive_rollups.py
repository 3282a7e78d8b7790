"""The second-stage job: derive rollups from stored rollups, never rereading Kafka.

It reads the daily-rollup partitions the aggregation job just wrote and rewrites
the monthly rollups of those years (``spark.rollups.months_from_days``): counts,
sums, minima and maxima, which are exact when derived. Like the first stage, it is
a pure recomputation, so rerunning it changes nothing.
"""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark.io import cassandra_table, write_table
from spark.rollups import DayPartition, months_from_days
from spark.schema import ROLLUP_PARTITION_KEY, Granularity, Table


def run(
    spark: SparkSession,
    *,
    day_partitions: list[DayPartition],
    keyspace: str,
    timestamp: int | None = None,
) -> int:
    """Rewrite the monthly rollups of ``day_partitions``; return the rows written.

    ``timestamp`` is the write time of the rows (see ``spark.io.write_table``).
    """
    if not day_partitions:
        return 0
    keys = spark.createDataFrame(
        day_partitions, "project_id string, name string, metric string, period string"
    ).withColumn("granularity", F.lit(Granularity.DAY.value))
    table = cassandra_table(spark, keyspace=keyspace, table=Table.ROLLUPS)
    days = keys.join(table, list(ROLLUP_PARTITION_KEY))
    months = months_from_days(days).persist()
    try:
        written = months.count()
        write_table(months, keyspace=keyspace, table=Table.ROLLUPS, timestamp=timestamp)
        return written
    finally:
        months.unpersist()
