"""Deleting events exactly: the stored events go, and every rollup they touched is
corrected as if they had never been counted.

Pure Python over a Cassandra driver session (``spark.driver_batch.CqlStore``), under
the aggregation lease (``insights.deletions``), one raw-events partition (project,
event name, UTC day) at a time: in the aggregation worker's process, or, for a large
users' deletion, on Spark's executors (``spark.deletion_job``). Per partition:

1. read its events and split them into the targets and the rest;
2. read the stored hour and day rollups of the targets' buckets and correct them:
   ``count`` and ``exact_sum`` less the targets', ``uniques`` less the users left with
   no event in the bucket, ``exact_min``/``exact_max`` recomputed from the remaining
   events; a row left with no event is deleted;
3. delete the ``bucket_users`` rows of the users left with no event in a bucket;
4. delete the targets from ``raw_events`` and ``user_events``.

Then the monthly rollups of every daily partition touched are derived again from the
days (a month left with no day is deleted). ``plan_partition`` computes a partition's
writes (and what they amount to, for the audit) before ``apply_plan`` makes them, so
the caller can record both and skip a partition an interrupted attempt finished.
The ``event_ids`` rows stay: they are the tombstones that keep a replay or a
redelivery from storing the events again.

Exactly once: every corrected row is stamped with the deletion's batch id (negative,
so never an aggregation batch's), and a row already stamped with it counts as
corrected. Steps 2-4 run in that order, so a partition whose targets are (partly)
gone has all its rollups corrected already; a deletion interrupted anywhere and
redone with the same batch id (before any aggregation batch runs: see
``insights.aggregation``) gives the numbers of one clean run.

Events still on their way when a user's deletion was asked are dropped by the
aggregation instead (``DeletionRule``, ``drop_deleted``): their ids are stored as
tombstones, nothing else.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark import exact
from spark.driver_batch import (
    CqlStore,
    Row,
    delta_rollups,
    members,
    months_from_days,
    truncate,
    with_legacy_stats,
)
from spark.schema import (
    BUCKET_KEY,
    BUCKET_USER_KEY,
    EVENTS_METRIC,
    RAW_EVENT_KEY,
    ROLLUP_COLUMNS,
    ROLLUP_KEY,
    USER_EVENT_KEY,
    Granularity,
    Table,
    period_strftime,
)

# A raw-events partition: project_id, name, UTC day.
RawPartition = tuple[str, str, dt.date]
# A daily-rollup partition: project_id, name, metric, period (the year).
DayPartition = tuple[str, str, str, str]
# A monthly rollup row: project_id, name, metric, month (naive UTC), category.
MonthKey = tuple[str, str, str, dt.datetime, str]


@dataclass(frozen=True)
class DeletionRule:
    """Events of ``distinct_id`` received at or before ``received_before`` (None: whenever
    received, a suppression; optionally only event ``name``, only with event_time in
    [``start``, ``end``)) are deleted. Datetimes are naive UTC."""

    project_id: str
    distinct_id: str
    received_before: dt.datetime | None
    name: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def covers(self, event: Row) -> bool:
        """Whether ``event`` (a raw-event row, naive UTC datetimes) is deleted by this rule."""
        received = event.get("received_at")
        return (
            event["project_id"] == self.project_id
            and event.get("distinct_id") == self.distinct_id
            and (self.name is None or event["name"] == self.name)
            and (self.start is None or event["event_time"] >= self.start)
            and (self.end is None or event["event_time"] < self.end)
            and (
                received is None or self.received_before is None or received <= self.received_before
            )
        )


@dataclass(frozen=True)
class UserTargets:
    """The events a users' deletion removes: these ids, received at or before
    ``received_before`` (naive UTC; None: whenever)."""

    event_ids: frozenset[str]
    received_before: dt.datetime | None

    def __call__(self, row: Row) -> bool:
        received = row.get("received_at")
        return row["event_id"] in self.event_ids and (
            received is None or self.received_before is None or received <= self.received_before
        )


def split_deleted(
    events: Sequence[Row], rules: Sequence[DeletionRule]
) -> tuple[list[Row], list[Row]]:
    """``events`` split into (kept, deleted by one of ``rules``)."""
    if not rules:
        return list(events), []
    by_user: dict[tuple[str, str | None], list[DeletionRule]] = {}
    for rule in rules:
        by_user.setdefault((rule.project_id, rule.distinct_id), []).append(rule)
    kept: list[Row] = []
    deleted: list[Row] = []
    for event in events:
        candidates = by_user.get((event["project_id"], event.get("distinct_id")), ())
        (deleted if any(rule.covers(event) for rule in candidates) else kept).append(event)
    return kept, deleted


_RULE_SCHEMA = (
    "r_project_id string, r_distinct_id string, r_received_before timestamp, "
    "r_name string, r_start timestamp, r_end timestamp"
)


def drop_deleted(
    spark: SparkSession, events: DataFrame, rules: Sequence[DeletionRule]
) -> DataFrame:
    """The Spark path's ``split_deleted``: the events of ``events`` no rule covers."""
    if not rules:
        return events

    def aware(moment: dt.datetime | None) -> dt.datetime | None:
        return None if moment is None else moment.replace(tzinfo=dt.UTC)

    table = spark.createDataFrame(
        [
            (r.project_id, r.distinct_id, aware(r.received_before), r.name, *window)
            for r in rules
            for window in [(aware(r.start), aware(r.end))]
        ],
        _RULE_SCHEMA,
    )
    covered = (
        (F.col("project_id") == F.col("r_project_id"))
        & (F.col("distinct_id") == F.col("r_distinct_id"))
        & (F.col("r_name").isNull() | (F.col("name") == F.col("r_name")))
        & (F.col("r_start").isNull() | (F.col("event_time") >= F.col("r_start")))
        & (F.col("r_end").isNull() | (F.col("event_time") < F.col("r_end")))
        & (
            F.col("received_at").isNull()
            | F.col("r_received_before").isNull()
            | (F.col("received_at") <= F.col("r_received_before"))
        )
    )
    return events.join(F.broadcast(table), covered, "left_anti")


@dataclass
class PartitionPlan:
    """What deleting the targets of one raw-events partition writes (``plan_partition``),
    and what it amounts to; ``day_partitions`` and ``month_keys`` feed ``rederive_months``."""

    targets: list[Row]
    rollup_writes: list[Row]
    rollup_removals: list[Row]
    users_gone: list[Row]
    day_partitions: set[DayPartition] = field(default_factory=set)
    month_keys: set[MonthKey] = field(default_factory=set)

    def summary(self) -> dict[str, Any]:
        """What a partition's record keeps: ``counts``, ``day_partitions``, ``month_keys``."""
        return {
            "counts": self.counts(),
            "day_partitions": sorted(self.day_partitions),
            "month_keys": sorted(self.month_keys),
        }

    def counts(self) -> dict[str, int]:
        return {
            "events": len(self.targets),
            "rollup_rows": len(self.rollup_writes),
            "rollup_rows_removed": len(self.rollup_removals),
            "bucket_users_removed": len(self.users_gone),
        }


def corrected_rollups(
    deleted: Iterable[Row],
    current: dict[tuple, Row],
    *,
    remaining: dict[tuple, Row],
    users_gone: Counter,
    batch_id: int,
) -> tuple[list[Row], list[Row]]:
    """(rows to write, keys to delete): each stored row of ``current`` less its
    ``deleted`` delta (``delta_rollups`` of the targets), stamped with ``batch_id``.

    ``remaining`` holds the ``delta_rollups`` of the events left in the buckets (their
    minima and maxima), ``users_gone`` the number of users left with no event, by
    BUCKET_KEY. A stored row already stamped with ``batch_id`` is corrected already; a
    row with no stored counterpart was deleted already (or never stored): both are skipped.
    """
    writes: list[Row] = []
    removals: list[Row] = []
    for delta in deleted:
        key = tuple(delta[k] for k in ROLLUP_KEY)
        stored = current.get(key)
        if stored is None or stored.get("batch_id") == batch_id:
            continue
        stored = with_legacy_stats(stored)
        count = (stored["count"] or 0) - delta["count"]
        keyed = {k: delta[k] for k in ROLLUP_KEY}
        if count <= 0:
            removals.append(keyed)
            continue
        if delta["metric"] == EVENTS_METRIC:
            bucket = tuple(delta[k] for k in BUCKET_KEY)
            uniques = max(0, (stored["uniques"] or 0) - users_gone[bucket])
            stats: tuple[str | None, ...] = (None, None, None)
        else:
            uniques = None
            left = remaining.get(key, stored)  # no event left in the scan: keep what is stored
            stats = (
                exact.difference(stored["exact_sum"], delta["exact_sum"]),
                left["exact_min"],
                left["exact_max"],
            )
        writes.append(
            {
                **keyed,
                "count": count,
                "uniques": uniques,
                "exact_sum": stats[0],
                "exact_min": stats[1],
                "exact_max": stats[2],
                "batch_id": batch_id,
            }
        )
    return writes, removals


def plan_partition(
    store: CqlStore,
    partition: RawPartition,
    *,
    is_target: Callable[[Row], bool],
    batch_id: int,
) -> PartitionPlan | None:
    """Steps 1-2 of the module docstring for one raw-events partition, without writing:
    None when none of its events is a target."""
    events = store.raw_partition(partition)
    targets = [event for event in events if is_target(event)]
    if not targets:
        return None
    target_ids = {event["event_id"] for event in targets}
    rest = [event for event in events if event["event_id"] not in target_ids]

    deleted = delta_rollups(targets, [])
    remaining = {tuple(row[k] for k in ROLLUP_KEY): row for row in delta_rollups(rest, [])}
    still_there = {tuple(m[k] for k in BUCKET_USER_KEY) for m in members(rest)}
    gone = [m for m in members(targets) if tuple(m[k] for k in BUCKET_USER_KEY) not in still_there]
    writes, removals = corrected_rollups(
        deleted,
        store.stored_rollups(deleted),
        remaining=remaining,
        users_gone=Counter(tuple(m[k] for k in BUCKET_KEY) for m in gone),
        batch_id=batch_id,
    )
    plan = PartitionPlan(
        targets=targets, rollup_writes=writes, rollup_removals=removals, users_gone=gone
    )
    for row in deleted:
        if row["granularity"] == Granularity.DAY:
            plan.day_partitions.add((row["project_id"], row["name"], row["metric"], row["period"]))
            month = truncate(row["bucket"], Granularity.MONTH)
            plan.month_keys.add(
                (row["project_id"], row["name"], row["metric"], month, row["category"])
            )
    return plan


def apply_plan(store: CqlStore, plan: PartitionPlan) -> None:
    """Steps 2-4 of the module docstring: the plan's writes, in that order."""
    store.write(plan.rollup_writes, table=Table.ROLLUPS, columns=(*ROLLUP_COLUMNS, "batch_id"))
    store.delete(plan.rollup_removals, table=Table.ROLLUPS, key=ROLLUP_KEY)
    store.delete(plan.users_gone, table=Table.BUCKET_USERS, key=BUCKET_USER_KEY)
    store.delete(plan.targets, table=Table.RAW_EVENTS, key=RAW_EVENT_KEY)
    indexed = [event for event in plan.targets if event["distinct_id"] is not None]
    store.delete(indexed, table=Table.USER_EVENTS, key=USER_EVENT_KEY)


def rederive_months(
    store: CqlStore, day_partitions: Iterable[DayPartition], month_keys: Iterable[MonthKey]
) -> tuple[int, int]:
    """Derive the monthly rollups of ``day_partitions`` again, and delete the months of
    ``month_keys`` left without a day; return (rows written, rows deleted)."""
    months = months_from_days(store.day_rollups(sorted(set(day_partitions))))
    store.write(months, table=Table.ROLLUPS, columns=ROLLUP_COLUMNS)
    derived = {
        (row["project_id"], row["name"], row["metric"], row["bucket"], row["category"])
        for row in months
    }
    month = Granularity.MONTH.value
    empty = [
        dict(zip(ROLLUP_KEY, (project, name, metric, month, period, bucket, cat), strict=True))
        for project, name, metric, bucket, cat in sorted(set(month_keys) - derived)
        for period in [bucket.strftime(period_strftime(month))]
    ]
    store.delete(empty, table=Table.ROLLUPS, key=ROLLUP_KEY)
    return len(months), len(empty)
