"""A small batch aggregated on the driver: the aggregation job's steps 2-6 and the
monthly derivation in plain Python, over a Cassandra driver session.

A small run on Spark is a dozen Spark jobs of 0.1-1 s each (joins, checkpoints,
writes), whatever its size. Here the records are parsed by Spark once (one action, so
an event is read exactly as the Spark path reads it), and then:

- the batch is deduplicated by position, as ``spark.dedupe.dedupe_batch``;
- every lookup is a prepared statement run concurrently (``execute_concurrent``);
- every write is a prepared upsert carrying the guard's write timestamp, with null
  cells left unset (as the connector's ``ignoreNulls``);
- deltas and merges follow ``spark.rollups`` rule for rule, on the same
  ``spark.exact`` functions.

The batch-id rules are the Spark path's (see ``spark.jobs.aggregate``): a row stamped
with the current batch counts as not stored for the lookups and as applied for the
merge, so a rerun of an interrupted batch on either path is exact.
``tests/spark/test_driver_batch.py`` runs both paths on the same batches and
compares every table row by row.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark import exact
from spark.envelopes import RECORD_POSITION, invalid_records, parse_records
from spark.schema import (
    ALL_CATEGORIES,
    BUCKET_KEY,
    EVENT_GRANULARITIES,
    EVENTS_METRIC,
    LEGACY_STATS,
    PROPERTY_PREFIX,
    RAW_EVENT_COLUMNS,
    ROLLUP_COLUMNS,
    ROLLUP_KEY,
    STATS,
    USER_EVENT_KEY,
    Granularity,
    Table,
    period_strftime,
)

if TYPE_CHECKING:
    # cassandra-driver ships no type information (ignore_missing_imports): these are Any.
    from cassandra.cluster import Session
    from cassandra.query import PreparedStatement

Row = dict[str, Any]
WriteGuard = Callable[[], int | None]

_EPOCH = dt.datetime(1970, 1, 1)
_TIMESTAMPS = ("event_time", "received_at")
# Concurrent requests in flight on the session, and clustering keys per IN list.
CONCURRENCY = 64
IN_LIST_SIZE = 100


def parse_on_driver(spark: SparkSession, records: DataFrame) -> tuple[list[Row], DataFrame]:
    """The valid events of ``records`` as dicts (RAW_EVENT_COLUMNS and RECORD_POSITION;
    timestamps as naive UTC datetimes, exact to the microsecond), and the DataFrame of
    the invalid records (for the DLQ), parsed by ``parse_records`` in one Spark action."""
    parsed = parse_records(records)
    plain = [c for c in (*RAW_EVENT_COLUMNS, *RECORD_POSITION) if c not in _TIMESTAMPS]
    micros = [F.unix_micros(name).alias(name) for name in _TIMESTAMPS]
    rows = parsed.select(*plain, *micros, "reason").collect()
    events = []
    for row in rows:
        event = row.asDict()
        if event.pop("reason") is not None:
            continue
        for name in _TIMESTAMPS:
            if event[name] is not None:
                event[name] = _EPOCH + dt.timedelta(microseconds=event[name])
        event["numeric_properties"] = dict(event["numeric_properties"] or {})
        events.append(event)
    return events, invalid_records(parsed)


def dedupe(events: Iterable[Row]) -> list[Row]:
    """One event per (project_id, event_id): the copy at the lowest (topic, partition,
    offset), as ``spark.dedupe.dedupe_batch`` keeps."""
    first: dict[tuple[str, str], Row] = {}
    for event in events:
        key = (event["project_id"], event["event_id"])
        kept = first.get(key)
        if kept is None or _position(event) < _position(kept):
            first[key] = event
    return list(first.values())


def _position(row: Row) -> tuple:
    return tuple(row[name] for name in RECORD_POSITION)


def truncate(moment: dt.datetime, granularity: str) -> dt.datetime:
    """The start of the ``granularity`` bucket holding ``moment`` (Spark's date_trunc, UTC)."""
    if granularity == Granularity.HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    if granularity == Granularity.DAY:
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity == Granularity.MONTH:
        return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    raise ValueError(f"unknown granularity {granularity!r}")


def _buckets(event: Row, granularities: Sequence[str]) -> Iterable[tuple[str, dt.datetime, str]]:
    """(granularity, bucket, period) of ``event`` for each granularity."""
    for granularity in granularities:
        bucket = truncate(event["event_time"], granularity)
        yield granularity, bucket, bucket.strftime(period_strftime(granularity))


def _categories(event: Row) -> tuple[str, str]:
    return event["category"], ALL_CATEGORIES


def members(events: Iterable[Row], granularities: Sequence[str] = EVENT_GRANULARITIES) -> list[Row]:
    """Distinct bucket users of ``events`` with a distinct_id, for each category and
    for ``all`` (``spark.rollups.members``)."""
    found: dict[tuple, Row] = {}
    for event in events:
        if event["distinct_id"] is None:
            continue
        for granularity, bucket, _period in _buckets(event, granularities):
            for category in _categories(event):
                row = {
                    "project_id": event["project_id"],
                    "name": event["name"],
                    "granularity": granularity,
                    "bucket": bucket,
                    "category": category,
                    "distinct_id": event["distinct_id"],
                }
                found.setdefault(tuple(row.values()), row)
    return list(found.values())


def delta_rollups(
    events: Iterable[Row],
    new_members: Iterable[Row],
    granularities: Sequence[str] = EVENT_GRANULARITIES,
) -> list[Row]:
    """What ``events`` add to each bucket (``spark.rollups.delta_rollups``): event
    counts, ``uniques`` as the number of ``new_members``, and property stats."""
    counts: dict[tuple, int] = defaultdict(int)
    values: dict[tuple, list[str]] = defaultdict(list)
    for event in events:
        for granularity, bucket, period in _buckets(event, granularities):
            for category in _categories(event):
                where = (event["project_id"], event["name"], granularity, period, bucket, category)
                counts[where] += 1
                for path, value in event["numeric_properties"].items():
                    if value is not None:
                        values[(*where, PROPERTY_PREFIX + path)].append(value)
    uniques: dict[tuple, int] = defaultdict(int)
    for member in new_members:
        uniques[tuple(member[k] for k in BUCKET_KEY)] += 1
    rows = []
    for (project_id, name, granularity, period, bucket, category), count in counts.items():
        rows.append(
            _rollup(
                (project_id, name, EVENTS_METRIC, granularity, period, bucket, category),
                count=count,
                uniques=uniques[(project_id, name, granularity, bucket, category)],
                stats=(None, None, None),
            )
        )
    for (project_id, name, granularity, period, bucket, category, metric), texts in values.items():
        rows.append(
            _rollup(
                (project_id, name, metric, granularity, period, bucket, category),
                count=len(texts),
                uniques=None,
                stats=exact.combine(texts, texts, texts),
            )
        )
    return rows


def _rollup(
    key: tuple, *, count: int | None, uniques: int | None, stats: Sequence[str | None]
) -> Row:
    return {
        **dict(zip(ROLLUP_KEY, key, strict=True)),
        "count": count,
        "uniques": uniques,
        **dict(zip(STATS, stats, strict=True)),
    }


def with_legacy_stats(stored: Row) -> Row:
    """``stored`` with each missing exact statistic taken from its legacy decimal."""
    row = dict(stored)
    for name, legacy in LEGACY_STATS.items():
        old = row.pop(legacy, None)
        if row.get(name) is None and old is not None:
            row[name] = str(old)
    return row


def merge_rollups(delta: Iterable[Row], current: dict[tuple, Row], *, batch_id: int) -> list[Row]:
    """The rows to write (``spark.rollups.merge_rollups``): each delta row plus its
    stored row in ``current`` (by ROLLUP_KEY), stamped with ``batch_id``; a stored row
    already stamped with ``batch_id`` is written back unchanged."""
    merged = []
    for row in delta:
        key = tuple(row[k] for k in ROLLUP_KEY)
        stored = with_legacy_stats(current[key]) if key in current else {}
        if stored and stored.get("batch_id") == batch_id:
            values = {name: stored.get(name) for name in ("count", "uniques", *STATS)}
        else:
            values = {name: _add(stored.get(name), row[name]) for name in ("count", "uniques")}
            combined = exact.combine(
                *[[stored.get(name), row[name]] for name in STATS]  # sum, min, max pairs
            )
            values.update(zip(STATS, combined, strict=True))
        merged.append({**{k: row[k] for k in ROLLUP_KEY}, **values, "batch_id": batch_id})
    return merged


def _add(stored: int | None, delta: int | None) -> int | None:
    return stored if delta is None else (stored or 0) + delta


def day_partitions(rollups: Iterable[Row]) -> list[tuple[str, str, str, str]]:
    """The daily-rollup partitions (project_id, name, metric, period) among ``rollups``."""
    found = {
        (row["project_id"], row["name"], row["metric"], row["period"])
        for row in rollups
        if row["granularity"] == Granularity.DAY
    }
    return sorted(found)


def months_from_days(day_rows: Iterable[Row]) -> list[Row]:
    """Monthly rollups derived from daily ones (``spark.rollups.months_from_days``):
    counts add up, stats combine exactly, uniques are null."""
    counts: dict[tuple, int | None] = {}
    parts: dict[tuple, list[list[str | None]]] = {}
    for stored in day_rows:
        row = with_legacy_stats(stored)
        if row["granularity"] != Granularity.DAY:
            continue
        bucket = truncate(row["bucket"], Granularity.MONTH)
        key = (row["project_id"], row["name"], row["metric"], bucket, row["category"])
        if key not in counts:
            counts[key], parts[key] = None, [[], [], []]
        if row["count"] is not None:
            counts[key] = (counts[key] or 0) + row["count"]
        for texts, name in zip(parts[key], STATS, strict=True):
            texts.append(row.get(name))
    month = Granularity.MONTH.value
    return [
        _rollup(
            (project_id, name, metric, month, bucket.strftime(period_strftime(month)), bucket, cat),
            count=counts[key],
            uniques=None,
            stats=exact.combine(*parts[key]),
        )
        for key in counts
        for project_id, name, metric, bucket, cat in [key]
    ]


@dataclass(frozen=True)
class CqlStore:
    """Lookups and guarded writes of one batch on a Cassandra driver session, every
    statement at ``consistency`` (a ``cassandra.ConsistencyLevel`` value)."""

    session: Session
    keyspace: str
    consistency: int
    guard: WriteGuard

    def _prepare(self, cql: str) -> PreparedStatement:
        return _prepared(self.session, cql, self.consistency)

    def _run(self, statement: PreparedStatement, params: Iterable[Sequence]) -> list:
        from cassandra.concurrent import execute_concurrent_with_args

        results = execute_concurrent_with_args(
            self.session, statement, list(params), concurrency=CONCURRENCY
        )
        return [result.result_or_exc for result in results]

    def stored_batches(self, rows: Sequence[Row], *, table: str, key: Sequence[str]) -> dict:
        """``{key values: batch_id}`` of the rows of ``table`` matching ``rows``' ``key``
        (the table's whole primary key)."""
        stored = self._select_in(table, [*key, "batch_id"], rows, key=key)
        return {tuple(row[k] for k in key): row["batch_id"] for row in stored}

    def stored_rollups(self, rows: Sequence[Row]) -> dict[tuple, Row]:
        """The stored rollup rows (ROLLUP_COLUMNS, the legacy stats, batch_id) of the
        keys of ``rows``, by ROLLUP_KEY."""
        columns = [*ROLLUP_COLUMNS, *LEGACY_STATS.values(), "batch_id"]
        stored = self._select_in(Table.ROLLUPS, columns, rows, key=ROLLUP_KEY)
        return {tuple(row[k] for k in ROLLUP_KEY): row for row in stored}

    def day_rollups(self, partitions: Sequence[tuple[str, str, str, str]]) -> list[Row]:
        """Every stored daily rollup row of ``partitions`` (project_id, name, metric, period)."""
        columns = [*ROLLUP_COLUMNS, *LEGACY_STATS.values()]
        statement = self._prepare(
            f"SELECT {', '.join(columns)} FROM {self.keyspace}.{Table.ROLLUPS} WHERE "
            "project_id=? AND name=? AND metric=? AND granularity=? AND period=?"
        )
        params = [(p, n, m, Granularity.DAY.value, period) for p, n, m, period in partitions]
        return [row for result in self._run(statement, params) for row in _raise_or_rows(result)]

    def _select_in(
        self, table: str, columns: Sequence[str], rows: Sequence[Row], *, key: Sequence[str]
    ) -> list[Row]:
        """``columns`` of the rows of ``table`` whose primary key ``key`` matches one of
        ``rows``: the rows sharing all but the last key column are read with one IN (of
        at most IN_LIST_SIZE values), whether that column clusters or partitions."""
        *fixed, last = key
        groups: dict[tuple, set] = defaultdict(set)
        for row in rows:
            groups[tuple(row[k] for k in fixed)].add(row[last])
        where = " AND ".join(f"{name}=?" for name in fixed)
        statement = self._prepare(
            f"SELECT {', '.join(columns)} FROM {self.keyspace}.{table} "
            f"WHERE {where} AND {last} IN ?"
        )
        params = [
            (*group, ordered[i : i + IN_LIST_SIZE])
            for group, lasts in groups.items()
            for ordered in [sorted(lasts)]
            for i in range(0, len(ordered), IN_LIST_SIZE)
        ]
        return [row for result in self._run(statement, params) for row in _raise_or_rows(result)]

    def raw_partition(self, partition: tuple[str, str, dt.date]) -> list[Row]:
        """Every stored event of one raw-events partition (project_id, name, day), with
        ``numeric_properties`` as a dict (empty when the event has none)."""
        statement = self._prepare(
            f"SELECT {', '.join(RAW_EVENT_COLUMNS)} FROM {self.keyspace}.{Table.RAW_EVENTS} "
            "WHERE project_id=? AND name=? AND day=?"
        )
        (result,) = self._run(statement, [partition])
        rows = _raise_or_rows(result)
        for row in rows:
            row["numeric_properties"] = dict(row["numeric_properties"] or {})
        return rows

    def user_events(self, project_id: str, distinct_ids: Sequence[str]) -> list[Row]:
        """The ``user_events`` index rows of ``distinct_ids`` (their raw-event keys)."""
        statement = self._prepare(
            f"SELECT {', '.join(USER_EVENT_KEY)} FROM {self.keyspace}.{Table.USER_EVENTS} "
            "WHERE project_id=? AND distinct_id=?"
        )
        results = self._run(statement, [(project_id, user) for user in distinct_ids])
        return [row for result in results for row in _raise_or_rows(result)]

    def delete(self, rows: Sequence[Row], *, table: str, key: Sequence[str]) -> None:
        """Delete the rows of ``table`` whose primary key ``key`` matches one of ``rows``,
        with the guard's write timestamp (a tombstone wins a tie with a write)."""
        if not rows:
            return
        timestamp = self.guard()
        using = "" if timestamp is None else " USING TIMESTAMP ?"
        where = " AND ".join(f"{name}=?" for name in key)
        statement = self._prepare(f"DELETE FROM {self.keyspace}.{table}{using} WHERE {where}")
        stamp = () if timestamp is None else (timestamp,)
        for result in self._run(statement, [(*stamp, *[row[k] for k in key]) for row in rows]):
            _raise_or_rows(result)

    def write(
        self,
        rows: Sequence[Row],
        *,
        table: str,
        columns: Sequence[str],
        ttl_column: str | None = None,
    ) -> None:
        """Upsert ``rows``' ``columns`` into ``table`` with the guard's write timestamp
        (the guard raises to stop the run); null cells are left unset, not deleted.
        ``ttl_column`` names the key of each row's TTL (seconds, 0: none)."""
        if not rows:
            return
        from cassandra.query import UNSET_VALUE

        timestamp = self.guard()
        options = [
            *(["TTL ?"] if ttl_column else []),
            *(["TIMESTAMP ?"] if timestamp is not None else []),
        ]
        using = f" USING {' AND '.join(options)}" if options else ""
        statement = self._prepare(
            f"INSERT INTO {self.keyspace}.{table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)}){using}"
        )
        stamp = () if timestamp is None else (timestamp,)
        params = [
            (
                *[UNSET_VALUE if row[c] is None else row[c] for c in columns],
                *((row[ttl_column],) if ttl_column else ()),
                *stamp,
            )
            for row in rows
        ]
        for result in self._run(statement, params):
            _raise_or_rows(result)


@lru_cache(maxsize=64)
def _prepared(session: Session, cql: str, consistency: int) -> PreparedStatement:
    statement = session.prepare(cql)
    statement.consistency_level = consistency
    return statement


def _raise_or_rows(result: Any) -> list[Row]:
    if isinstance(result, BaseException):
        raise result
    return [row._asdict() if hasattr(row, "_asdict") else dict(row) for row in result or []]


def unseen(
    store: CqlStore, rows: list[Row], *, table: str, key: Sequence[str], batch_id: int
) -> list[Row]:
    """The rows whose ``key`` no batch other than ``batch_id`` stored in ``table``
    (``spark.dedupe.not_seen``: a stored row without a batch id counts as unseen too)."""
    if not rows:
        return []
    stored = store.stored_batches(rows, table=table, key=key)
    earlier = {k for k, batch in stored.items() if batch is not None and batch != batch_id}
    return [row for row in rows if tuple(row[k] for k in key) not in earlier]


def stamped(rows: Iterable[Row], *, batch_id: int) -> list[Row]:
    return [{**row, "batch_id": batch_id} for row in rows]


def derive_months(store: CqlStore, partitions: Sequence[tuple[str, str, str, str]]) -> int:
    """Rewrite the monthly rollups of the daily ``partitions``; the rows written
    (``spark.jobs.derive_rollups``)."""
    months = months_from_days(store.day_rollups(partitions))
    store.write(months, table=Table.ROLLUPS, columns=ROLLUP_COLUMNS)
    return len(months)
