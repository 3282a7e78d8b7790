"""The aggregation job: a Kafka offset range -> raw events and exact rollups in Cassandra.

One run processes one batch: a fixed offset range (``spark.offsets.OffsetRange``)
with a ``batch_id``. It:

1. parses the records; records that are not events go to the DLQ topic with the reason;
2. keeps one copy of each (project_id, event_id), the one at the lowest offset;
3. looks the event ids up in ``event_ids`` and keeps the events not stored before;
4. writes them to ``event_ids`` and ``raw_events``;
5. reads the stored rollups of their buckets (once: for this step and the next), looks
   their users up in ``bucket_users`` (per hour and day bucket) to find the users new
   to each bucket, and writes those; in a bucket with no stored rollup row every user
   is new, and is not looked up (``spark.rollups.bucket_members``), and a bucket with
   few stored users is read whole (``spark.rollups.by_read_cost``);
6. adds the new events' counts, new users and property stats to the stored rollups.

Everything written carries the ``batch_id``, and anything already stamped with the
current batch counts as not yet applied for steps 3 and 5 and as already applied
for step 6. So rerunning a batch (same range, same id) after a crash at any point
gives exactly the numbers one clean run would have given; a later batch holding
the same events (a redelivery, a replay) adds nothing. Cost grows with the batch,
not with what is already stored, so small frequent runs stay fast.

A small batch (read from Kafka on the driver) can instead be aggregated on the driver
by ``spark.driver_batch``, with the same steps and rules, when ``run`` gets a driver
session (``cql``); the command line always uses Spark.

Usage (``manage.py aggregate`` is the usual way: it keeps offsets and batch ids)::

    python -m spark.jobs.aggregate --keyspace K --batch-id N --topics T1,T2 --dlq-topic D \
        [--start JSON] [--end JSON] [--bootstrap HOSTS] [--master URL] [--jars-dir DIR]

``--start`` defaults to the earliest offsets and ``--end`` to the latest; the run
prints its range and result as JSON. The job reads no settings and no environment:
everything it touches is an argument. A batch id must be new, unless the run redoes
that batch's exact range.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark import driver_batch
from spark.dedupe import dedupe_batch, not_seen, stamped
from spark.deletion import DeletionRule, drop_deleted, split_deleted
from spark.envelopes import invalid_records, parse_records, valid_events
from spark.io import (
    DRIVER_READ_MAX_BYTES,
    DRIVER_READ_MAX_RECORDS,
    KAFKA_RECORD_SCHEMA,
    fetch_if_small,
    lookup,
    read_range,
    write_dlq,
    write_table,
)
from spark.offsets import OffsetRange, plan_range
from spark.retention import TTL_COLUMN, with_ttl, with_ttl_rows
from spark.rollups import (
    WHOLE_BUCKET_READ_RATIO,
    DayPartition,
    bucket_members,
    by_read_cost,
    event_deltas,
    members,
    merge_rollups,
    with_uniques,
)
from spark.schema import (
    BUCKET_KEY,
    BUCKET_USER_KEY,
    EVENT_ID_COLUMNS,
    EVENT_KEY,
    PARTITION_KEY,
    RAW_EVENT_COLUMNS,
    ROLLUP_COLUMNS,
    ROLLUP_KEY,
    ROLLUP_PARTITION_KEY,
    STORED_ROLLUP_COLUMNS,
    USER_EVENT_KEY,
    Granularity,
    Table,
)

Progress = Callable[[str], None]
# Called right before each write: raises to stop the run (it no longer holds its
# lease), or returns the write timestamp (microseconds) the write must carry, None
# for Cassandra's own (the time of the write).
WriteGuard = Callable[[], int | None]


@dataclass
class AggregationResult:
    """What one run did; ``day_partitions`` lists the daily-rollup partitions it wrote
    (project_id, name, metric, period) for the second-stage job; ``path`` is where it
    ran: ``"driver"`` (``spark.driver_batch``) or ``"spark"``."""

    records_read: int = 0
    invalid: int = 0
    duplicates: int = 0
    events_written: int = 0
    deleted: int = 0
    rollup_rows: int = 0
    day_partitions: list[DayPartition] = field(default_factory=list)
    path: str = "spark"

    def as_dict(self) -> dict:
        """The result as plain JSON-friendly data."""
        return asdict(self)


def _keep(df: DataFrame) -> DataFrame:
    """Materialise ``df`` now and cut its lineage, so later steps neither recompute it
    nor re-plan everything before it."""
    return df.localCheckpoint(eager=True)


@dataclass(frozen=True)
class _Store:
    """The Cassandra side of one batch: lookups, and writes that call the guard."""

    spark: SparkSession
    keyspace: str
    batch_id: int
    guard: WriteGuard
    whole_bucket_read_ratio: float

    def unseen(self, rows: DataFrame, *, table: str, key: tuple[str, ...]) -> DataFrame:
        """The rows whose ``key`` no other batch stored in ``table`` (kept)."""
        seen = self.stored_batches(rows.select(*key), table=table, key=key)
        return _keep(not_seen(rows, seen, key=key, batch_id=self.batch_id))

    def stored_batches(self, keys: DataFrame, *, table: str, key: tuple[str, ...]) -> DataFrame:
        """``key`` and ``batch_id`` of the rows of ``table`` matching ``keys`` (a direct
        join: ``keys`` holds the whole partition key, and may stop there)."""
        stored = lookup(self.spark, keys, keyspace=self.keyspace, table=table)
        return stored.select(*key, "batch_id")

    def unseen_members(self, maybe_seen: DataFrame, current: DataFrame) -> DataFrame:
        """The ``maybe_seen`` members no other batch stored in ``bucket_users`` (kept):
        a bucket with few stored users is read whole, the others member by member
        (``spark.rollups.by_read_cost``)."""
        whole, one_by_one = by_read_cost(maybe_seen, current, ratio=self.whole_bucket_read_ratio)
        table, key = Table.BUCKET_USERS, BUCKET_USER_KEY
        seen = self.stored_batches(
            whole.select(*BUCKET_KEY).distinct(), table=table, key=key
        ).unionByName(self.stored_batches(one_by_one.select(*key), table=table, key=key))
        return _keep(not_seen(maybe_seen, seen, key=BUCKET_USER_KEY, batch_id=self.batch_id))

    def current_rollups(self, delta: DataFrame) -> DataFrame:
        """The stored rollup rows of the keys of ``delta``."""
        keys = delta.select(*ROLLUP_KEY)
        current = lookup(self.spark, keys, keyspace=self.keyspace, table=Table.ROLLUPS)
        return current.select(*STORED_ROLLUP_COLUMNS, "batch_id")

    def write(self, rows: DataFrame, *, table: str, ttl_column: str | None = None) -> None:
        """Write ``rows`` with the timestamp the guard gives (or stop if it raises)."""
        write_table(
            rows,
            keyspace=self.keyspace,
            table=table,
            timestamp=self.guard(),
            partition_key=PARTITION_KEY.get(table, ()),
            ttl_column=ttl_column,
        )


def run(
    spark: SparkSession | None,
    *,
    offsets: OffsetRange,
    batch_id: int,
    bootstrap: str,
    keyspace: str,
    dlq_topic: str,
    driver_read_max_records: int = DRIVER_READ_MAX_RECORDS,
    driver_read_max_bytes: int = DRIVER_READ_MAX_BYTES,
    progress: Progress = lambda _message: None,
    guard: WriteGuard = lambda: None,
    cql: driver_batch.CqlStore | None = None,
    deletion_rules: Sequence[DeletionRule] = (),
    raw_retention: Mapping[str, int] | None = None,
    whole_bucket_read_ratio: float = WHOLE_BUCKET_READ_RATIO,
) -> AggregationResult:
    """Aggregate the records of ``offsets`` as batch ``batch_id``; see the module docstring.

    ``guard`` is called right before every write (DLQ, event ids, raw events, bucket
    users, rollups) and gives each Cassandra write its timestamp. With ``cql`` (a
    driver session on the same keyspace, whose writes call the same guard), a batch
    small enough to be read on the driver is aggregated there (``spark.driver_batch``).
    New events a ``deletion_rules`` rule covers (a user's deletion asked while they were
    on their way) are stored as tombstones in ``event_ids`` only, counted as ``deleted``.
    ``raw_retention`` (project_id -> days) gives raw copies their TTL
    (``spark.retention``); an event already beyond it is counted but not stored raw.
    ``whole_bucket_read_ratio`` is ``spark.rollups.by_read_cost``'s ratio (Spark path).
    """
    raw_retention = raw_retention or {}
    result = AggregationResult(records_read=offsets.records)
    if result.records_read == 0:
        progress("no new records")
        return result
    assert spark is not None, "a run with records needs a SparkSession"
    store = _Store(
        spark=spark,
        keyspace=keyspace,
        batch_id=batch_id,
        guard=guard,
        whole_bucket_read_ratio=whole_bucket_read_ratio,
    )

    progress(f"reading {result.records_read} records")
    small = fetch_if_small(
        bootstrap=bootstrap,
        offsets=offsets,
        max_records=driver_read_max_records,
        max_bytes=driver_read_max_bytes,
    )
    if small is None:
        records = read_range(spark, bootstrap=bootstrap, offsets=offsets)
    else:
        records = spark.createDataFrame(small, KAFKA_RECORD_SCHEMA)
        if cql is not None:
            return _run_on_driver(
                spark,
                records,
                result=result,
                cql=cql,
                batch_id=batch_id,
                bootstrap=bootstrap,
                dlq_topic=dlq_topic,
                progress=progress,
                deletion_rules=deletion_rules,
                raw_retention=raw_retention,
            )
    parsed = _keep(parse_records(records))
    invalid = invalid_records(parsed)
    result.invalid = invalid.count()
    if result.invalid:
        progress(f"sending {result.invalid} invalid records to {dlq_topic}")
        guard()
        write_dlq(invalid, bootstrap=bootstrap, topic=dlq_topic)

    batch = dedupe_batch(valid_events(parsed)).select(*RAW_EVENT_COLUMNS)
    unseen = store.unseen(batch, table=Table.EVENT_IDS, key=EVENT_KEY)
    new = _keep(drop_deleted(spark, unseen, deletion_rules)) if deletion_rules else unseen
    result.events_written = new.count()
    if deletion_rules:
        result.deleted = unseen.count() - result.events_written
    result.duplicates = (
        result.records_read - result.invalid - result.events_written - result.deleted
    )
    progress(f"writing {result.events_written} new events")
    store.write(stamped(unseen, batch_id=batch_id).select(*EVENT_ID_COLUMNS), table=Table.EVENT_IDS)
    raw = with_ttl(spark, stamped(new, batch_id=batch_id), raw_retention, now=_utc_now())
    store.write(raw, table=Table.RAW_EVENTS, ttl_column=TTL_COLUMN)
    indexed = raw.where(F.col("distinct_id").isNotNull())
    store.write(
        indexed.select(*USER_EVENT_KEY, "batch_id", TTL_COLUMN),
        table=Table.USER_EVENTS,
        ttl_column=TTL_COLUMN,
    )

    progress("finding users new to their buckets")
    deltas = _keep(event_deltas(new))
    current = _keep(store.current_rollups(deltas))  # read once: for the users and the merge
    maybe_seen, new_in_new_buckets = bucket_members(_keep(members(new)), current)
    new_members = new_in_new_buckets.unionByName(store.unseen_members(maybe_seen, current))
    store.write(stamped(new_members, batch_id=batch_id), table=Table.BUCKET_USERS)

    delta = with_uniques(deltas, new_members)
    merged = _keep(merge_rollups(delta, current, batch_id=batch_id))
    result.rollup_rows = merged.count()
    progress(f"writing {result.rollup_rows} rollup rows")
    store.write(merged, table=Table.ROLLUPS)
    result.day_partitions = _day_partitions(merged)
    return result


def _run_on_driver(
    spark: SparkSession,
    records: DataFrame,
    *,
    result: AggregationResult,
    cql: driver_batch.CqlStore,
    batch_id: int,
    bootstrap: str,
    dlq_topic: str,
    progress: Progress,
    deletion_rules: Sequence[DeletionRule],
    raw_retention: Mapping[str, int],
) -> AggregationResult:
    """Steps 1-6 of the module docstring for a small batch: parsed by Spark in one
    action, the rest on the driver (``spark.driver_batch``), with the same rules."""
    result.path = "driver"
    events, invalid = driver_batch.parse_on_driver(spark, records)
    result.invalid = result.records_read - len(events)
    if result.invalid:
        progress(f"sending {result.invalid} invalid records to {dlq_topic}")
        cql.guard()
        write_dlq(invalid, bootstrap=bootstrap, topic=dlq_topic)

    batch = driver_batch.dedupe(events)
    unseen = driver_batch.unseen(
        cql, batch, table=Table.EVENT_IDS, key=EVENT_KEY, batch_id=batch_id
    )
    new, deleted = split_deleted(unseen, deletion_rules)
    result.events_written = len(new)
    result.deleted = len(deleted)
    result.duplicates = (
        result.records_read - result.invalid - result.events_written - result.deleted
    )
    progress(f"writing {result.events_written} new events")
    ids = driver_batch.stamped(unseen, batch_id=batch_id)
    cql.write(ids, table=Table.EVENT_IDS, columns=EVENT_ID_COLUMNS)
    rows = with_ttl_rows(
        driver_batch.stamped(new, batch_id=batch_id), raw_retention, now=_utc_now()
    )
    raw_columns = (*RAW_EVENT_COLUMNS, "batch_id")
    cql.write(rows, table=Table.RAW_EVENTS, columns=raw_columns, ttl_column=TTL_COLUMN)
    indexed = [row for row in rows if row["distinct_id"] is not None]
    index_columns = (*USER_EVENT_KEY, "batch_id")
    cql.write(indexed, table=Table.USER_EVENTS, columns=index_columns, ttl_column=TTL_COLUMN)

    progress("finding users new to their buckets")
    new_members = driver_batch.unseen(
        cql,
        driver_batch.members(new),
        table=Table.BUCKET_USERS,
        key=BUCKET_USER_KEY,
        batch_id=batch_id,
    )
    members = driver_batch.stamped(new_members, batch_id=batch_id)
    cql.write(members, table=Table.BUCKET_USERS, columns=(*BUCKET_USER_KEY, "batch_id"))

    delta = driver_batch.delta_rollups(new, new_members)
    merged = driver_batch.merge_rollups(delta, cql.stored_rollups(delta), batch_id=batch_id)
    result.rollup_rows = len(merged)
    progress(f"writing {result.rollup_rows} rollup rows")
    cql.write(merged, table=Table.ROLLUPS, columns=(*ROLLUP_COLUMNS, "batch_id"))
    result.day_partitions = driver_batch.day_partitions(merged)
    return result


def _utc_now() -> dt.datetime:
    """Now, naive UTC (as the events' timestamps)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _day_partitions(rollups: DataFrame) -> list[DayPartition]:
    """The daily-rollup partitions (project_id, name, metric, period) among ``rollups``."""
    day_key = [column for column in ROLLUP_PARTITION_KEY if column != "granularity"]
    days = rollups.where(F.col("granularity") == Granularity.DAY.value)
    return [tuple(row) for row in days.select(*day_key).distinct().collect()]


def main(argv: list[str] | None = None) -> None:
    """The command line: plan the range, run one batch, print the result as JSON."""
    from spark.session import build_session

    args = _parser().parse_args(argv)
    offsets = plan_range(
        bootstrap=args.bootstrap.split(","), topics=args.topics, committed=args.start or {}
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
            dlq_topic=args.dlq_topic,
            progress=print,
        )
        print(json.dumps({"start": offsets.start, "end": offsets.end, **result.as_dict()}))
    finally:
        spark.stop()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keyspace", required=True)
    parser.add_argument("--batch-id", type=int, required=True)
    parser.add_argument(
        "--topics", required=True, type=lambda text: text.split(","), help="T1,T2,..."
    )
    parser.add_argument("--dlq-topic", required=True)
    parser.add_argument("--start", type=json.loads, help='{"topic": {"0": offset}}')
    parser.add_argument("--end", type=json.loads, help='{"topic": {"0": offset}}')
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--jars-dir", default="var/jars/spark")
    return parser


if __name__ == "__main__":
    main()
