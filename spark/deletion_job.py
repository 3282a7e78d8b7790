"""A users' deletion as a Spark job: the raw-event partitions it touches are planned and
applied on the executors (``spark.deletion.plan_partition`` and ``apply_plan``), each
task over a Cassandra driver session of its own, every write at the one write
timestamp the caller's lease gave the job.

Two stages, so the caller can record each partition's plan before its first write
(what makes an interrupted deletion redo exactly, as on the driver):

1. ``plan``: the counts and the monthly keys of each partition's plan, written nowhere;
2. ``apply``: the partitions planned again and written. Under the aggregation lease
   nothing else writes in between, so a partition's plan is the one recorded; a
   partition an interrupted attempt partly wrote plans only what is left.

Each rollup row and ``bucket_users`` partition belongs to one raw-event partition (an
hour or a day is within one UTC day), so partitions never write the same rows, and one
timestamp for all of them is safe. The connector cannot delete rows, hence the driver
sessions (the executors run the driver's Python, with its packages: ``spark.session``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from pyspark.sql import SparkSession

from spark.deletion import RawPartition, UserTargets, apply_plan, plan_partition
from spark.driver_batch import CqlStore

_stores: dict[StoreConfig, CqlStore] = {}  # one driver session per executor process


@dataclass(frozen=True)
class StoreConfig:
    """How an executor reaches Cassandra: picklable, and a key of its session cache
    (except ``write_timestamp``, which only the guard reads)."""

    hosts: tuple[str, ...]
    port: int
    keyspace: str
    consistency: int
    local_dc: str | None
    write_timestamp: int | None  # None: the server's clock


def _store(config: StoreConfig) -> CqlStore:
    """This process's store for ``config`` (a new session the first time)."""
    key = replace(config, write_timestamp=None)
    if key not in _stores:
        from cassandra.cluster import Cluster
        from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
        from cassandra.query import dict_factory

        cluster = Cluster(
            list(config.hosts),
            port=config.port,
            protocol_version=5,
            load_balancing_policy=TokenAwarePolicy(
                DCAwareRoundRobinPolicy(local_dc=config.local_dc)
            ),
        )
        session = cluster.connect()
        session.row_factory = dict_factory
        _stores[key] = CqlStore(
            session=session,
            keyspace=config.keyspace,
            consistency=config.consistency,
            guard=lambda: None,
        )
    stored = _stores[key]
    stamp = config.write_timestamp
    return CqlStore(
        session=stored.session,
        keyspace=stored.keyspace,
        consistency=stored.consistency,
        guard=lambda: stamp,
    )


def _slices(spark: SparkSession, count: int) -> int:
    return max(1, min(count, 4 * spark.sparkContext.defaultParallelism))


def plan(
    spark: SparkSession,
    partitions: list[RawPartition],
    *,
    targets: UserTargets,
    config: StoreConfig,
    batch_id: int,
) -> dict[RawPartition, dict[str, Any]]:
    """Stage 1: ``{partition: {"counts", "day_partitions", "month_keys"}}`` of the
    partitions holding targets (naive UTC datetimes)."""

    def planned(chunk: Iterable[RawPartition]) -> Iterator[tuple[RawPartition, dict[str, Any]]]:
        store = _store(config)
        for partition in chunk:
            found = plan_partition(store, partition, is_target=targets, batch_id=batch_id)
            if found is not None:
                yield partition, found.summary()

    rdd = spark.sparkContext.parallelize(partitions, _slices(spark, len(partitions)))
    return dict(rdd.mapPartitions(planned).collect())


def apply(
    spark: SparkSession,
    partitions: list[RawPartition],
    *,
    targets: UserTargets,
    config: StoreConfig,
    batch_id: int,
) -> int:
    """Stage 2: plan each partition again and write it; return the events removed."""

    def applied(chunk: Iterable[RawPartition]) -> Iterator[int]:
        store = _store(config)
        for partition in chunk:
            found = plan_partition(store, partition, is_target=targets, batch_id=batch_id)
            if found is not None:
                apply_plan(store, found)
                yield len(found.targets)

    rdd = spark.sparkContext.parallelize(partitions, _slices(spark, len(partitions)))
    removed: list[int] = rdd.mapPartitions(applied).collect()
    return sum(removed)
