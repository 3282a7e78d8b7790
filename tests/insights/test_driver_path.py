"""The two ways a batch is aggregated give the same rows: the Spark path and the
driver path (``spark/driver_batch.py``) run over the same batches, one project each,
through duplicates, late events, redeliveries, a rerun of a batch and a batch
interrupted part-way and redone; every table must then hold the same rows for both.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import uuid
from collections.abc import Callable

import pytest
from cassandra import ConsistencyLevel
from django.conf import settings
from django.db import connections
from pyspark.sql import SparkSession

from events.topics import dlq_topic, event_topics
from insights import store
from spark import driver_batch
from spark.jobs import aggregate, derive_rollups
from spark.offsets import OffsetRange, plan_range
from spark.schema import Table
from tests.insights.known_answer import expected_rollups, stored_rollups
from tests.insights.test_aggregation import START, generate, produce

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "cassandra"])]

BATCH_BASE = {"spark": 1_000, "driver": 2_000}


class Interrupted(Exception):
    """The guard stopping a run, as a lost lease does."""


def _guard(stop_at_call: int | None) -> Callable[[], None]:
    calls = []

    def guard() -> None:
        calls.append(1)
        if stop_at_call is not None and len(calls) == stop_at_call:
            raise Interrupted(f"stopped at write {stop_at_call}")

    return guard


def _offsets() -> dict[str, dict[str, int]]:
    return plan_range(
        bootstrap=settings.KAFKA_BOOTSTRAP_SERVERS, topics=event_topics(), committed={}
    ).end


def _run(
    spark: SparkSession,
    path: str,
    offsets: OffsetRange,
    batch: int,
    stop_at: int | None = None,
    *,
    whole_bucket_read_ratio: float,
) -> aggregate.AggregationResult:
    guard = _guard(stop_at)
    cql = None
    if path == "driver":
        cql = driver_batch.CqlStore(
            session=store.session(),
            keyspace=store.keyspace(),
            consistency=ConsistencyLevel.LOCAL_QUORUM,
            guard=guard,
        )
    result = aggregate.run(
        spark,
        offsets=offsets,
        batch_id=BATCH_BASE[path] + batch,
        bootstrap=",".join(settings.KAFKA_BOOTSTRAP_SERVERS),
        keyspace=store.keyspace(),
        dlq_topic=dlq_topic(),
        guard=guard,
        cql=cql,
        whole_bucket_read_ratio=whole_bucket_read_ratio,
    )
    assert result.path == path
    if cql is not None:
        driver_batch.derive_months(cql, result.day_partitions)
    elif result.day_partitions:
        derive_rollups.run(spark, day_partitions=result.day_partitions, keyspace=store.keyspace())
    return result


def _rows(table: str, project: str, path: str) -> list[tuple]:
    """Every row of ``project`` in ``table``, the project id and batch ids made
    comparable across the two projects."""
    session = connections["cassandra"].connection.session
    found = session.execute(
        f"SELECT * FROM {store.keyspace()}.{table} WHERE project_id = %s ALLOW FILTERING",
        (project,),
    )
    rows = []
    for row in found:
        values = dict(row)
        values.pop("project_id")
        if values.get("batch_id") is not None:
            values["batch_id"] -= BATCH_BASE[path]
        if "numeric_properties" in values:
            values["numeric_properties"] = sorted(dict(values["numeric_properties"] or {}).items())
        rows.append(tuple(sorted((k, str(v)) for k, v in values.items())))
    return sorted(rows)


@pytest.mark.parametrize(
    "whole_bucket_read_ratio", [0, 1e9], ids=["users-read-one-by-one", "buckets-read-whole"]
)
def test_the_driver_path_and_the_spark_path_write_the_same_rows(
    spark: SparkSession, topic_prefix: str, whole_bucket_read_ratio: float
) -> None:
    rng = random.Random(41)
    projects = {"spark": uuid.uuid4().hex, "driver": uuid.uuid4().hex}
    first = generate(300, rng=rng, start=START + dt.timedelta(days=1), hours=40)
    first[0]["properties"]["amount"] = 10**20 + 1  # beyond a long, not exact as a double
    first[1]["properties"]["amount"] = 0.1
    late = generate(80, rng=rng, start=START, hours=30)
    third = generate(120, rng=rng, start=START, hours=70)
    batches = [
        first + rng.sample(first, 30),  # in-batch duplicates
        late + rng.sample(first, 20),  # late events and redeliveries
        third,
    ]
    ranges: dict[str, list[OffsetRange]] = {"spark": [], "driver": []}
    for events in batches:
        for path, project in projects.items():
            before = _offsets()
            produce(topic_prefix, events, project, extra=[b"not json"])
            ranges[path].append(OffsetRange(start=before, end=_offsets()))

    run = functools.partial(_run, whole_bucket_read_ratio=whole_bucket_read_ratio)
    for path in projects:
        first_run = run(spark, path, ranges[path][0], 1)
        assert (first_run.events_written, first_run.duplicates, first_run.invalid) == (300, 30, 1)
        second = run(spark, path, ranges[path][1], 2)
        assert (second.events_written, second.duplicates) == (80, 20)
        again = run(spark, path, ranges[path][1], 2)  # the same batch rerun
        assert again.events_written == 80
        with pytest.raises(Interrupted):  # stops before the bucket-users write
            run(spark, path, ranges[path][2], 3, stop_at=4)
        redone = run(spark, path, ranges[path][2], 3)
        assert redone.events_written == 120

    everything = first + late + third
    for project in projects.values():
        assert stored_rollups(project) == expected_rollups(everything)
    for table in (Table.RAW_EVENTS, Table.EVENT_IDS, Table.BUCKET_USERS, Table.ROLLUPS):
        spark_rows = _rows(table, projects["spark"], "spark")
        assert spark_rows, table
        assert _rows(table, projects["driver"], "driver") == spark_rows, table
