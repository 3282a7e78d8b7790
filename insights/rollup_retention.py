"""Per-project rollup retention (``Project.rollup_retention_days``).

A rollup bucket is purged once its end is more than ``rollup_retention_days`` old: its
rows in ``rollups`` (every metric and category) and its ``bucket_users``. ``purge`` runs
daily (the beat task ``purge expired rollups``, 03:00 UTC) and when the retention
changes, under the aggregation lease, so it never interleaves with an aggregation run
or a deletion. A bucket is removed whole or
not at all, and queries never read a bucket that a purge may have touched:
``check_buckets`` refuses (400 naming ``rollup_retention_days``) a read whose first
hourly or daily bucket ends before the cutoff, or whose first month starts before it (a
month is derived from its days, some of which may be gone). A late event that recreates
a purged bucket is refused the same way and purged again by the next run.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.utils import timezone

from events.models import Project
from spark.schema import (
    BUCKET_KEY,
    EVENTS_METRIC,
    PERIOD_UNIT,
    ROLLUP_KEY,
    ROLLUP_PARTITION_KEY,
    Granularity,
    Table,
    period_strftime,
)

from . import store
from .cache import bump_generations
from .errors import QueryError
from .lease import Lease, exclusive_run
from .timeframes import floor, shift

logger = logging.getLogger(__name__)
FIELD = "rollup_retention_days"


def cutoff(days: int | None, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """The aware UTC moment before which a bucket of a ``days`` retention may be gone."""
    if days is None:
        return None
    return (now or timezone.now()).astimezone(dt.UTC) - dt.timedelta(days=days)


def retention_days(project_id: str) -> int | None:
    """The project's rollup retention in days (None: forever, or no such project)."""
    found = Project.objects.filter(pk=project_id).values_list(FIELD, flat=True)
    return found.first()


def check_buckets(days: int | None, *, granularity: str, first: dt.datetime) -> None:
    """QueryError when a read of ``granularity`` buckets from ``first`` (aware UTC, a
    bucket start) needs a bucket a ``days`` retention may have purged."""
    oldest = cutoff(days)
    if oldest is None:
        return
    bucket = floor(first, granularity)
    intact = (
        bucket >= oldest
        if granularity == Granularity.MONTH
        else shift(bucket, granularity, 1) > oldest
    )
    if not intact:
        raise QueryError(
            "timeframe",
            f"this query reads {granularity} rollups from {bucket.isoformat()}, but this project "
            f"keeps rollups {days} days ({FIELD}: buckets ending after "
            f"{oldest.isoformat(timespec='seconds')}); narrow the timeframe",
        )


@dataclass
class Purged:
    """What one purge removed."""

    rollup_rows: int = 0
    rollup_partitions: int = 0
    bucket_users_partitions: int = 0


def purge(project_id: str, *, wait_seconds: float = 600, now: dt.datetime | None = None) -> Purged:
    """Remove the project's buckets beyond its rollup retention, under the aggregation
    lease (waiting at most ``wait_seconds`` for it); idempotent, and a no-op without one."""
    days = retention_days(project_id)
    oldest = cutoff(days, now=now)
    if oldest is None:
        return Purged()
    with exclusive_run(wait_seconds=wait_seconds) as lease:
        purged = _purge(project_id, oldest.replace(tzinfo=None), lease)
    bump_generations([project_id])
    logger.info("rollup retention of %s (%s days): %s", project_id, days, purged)
    return purged


def purge_all() -> dict[str, Purged]:
    """``purge`` every project that sets a rollup retention (the daily beat task)."""
    limited = Project.objects.filter(rollup_retention_days__isnull=False)
    return {str(pk): purge(str(pk)) for pk in limited.values_list("pk", flat=True)}


def _partitions(project_id: str) -> list[tuple[str, str, str, str]]:
    """(name, metric, granularity, period) of the project's rollup partitions: the
    partition keys alone (``SELECT DISTINCT``), a read of the table's partition index."""
    columns = ", ".join(ROLLUP_PARTITION_KEY)
    query = f"SELECT DISTINCT {columns} FROM {store.keyspace()}.{Table.ROLLUPS}"
    return [
        (row["name"], row["metric"], row["granularity"], row["period"])
        for row in store.session().execute(query)
        if row["project_id"] == project_id
    ]


def _period_bounds(granularity: str, period: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a rollup partition's period (naive UTC)."""
    start = dt.datetime.strptime(period, period_strftime(granularity))
    end = shift(start.replace(tzinfo=dt.UTC), PERIOD_UNIT[Granularity(granularity)], 1)
    return start, end.replace(tzinfo=None)


def _purge(project_id: str, oldest: dt.datetime, lease: Lease) -> Purged:
    from .aggregation import _driver_store

    cql = _driver_store(lease)
    session = store.session()
    select = session.prepare(
        f"SELECT bucket, category FROM {store.keyspace()}.{Table.ROLLUPS} WHERE "
        + " AND ".join(f"{column}=?" for column in ROLLUP_PARTITION_KEY)
        + " AND bucket<?"
    )
    purged = Purged()
    for name, metric, granularity, period in _partitions(project_id):
        start, end = _period_bounds(granularity, period)
        if start >= oldest:
            continue
        # Buckets whose end is at or before ``oldest`` start before its floor.
        before = floor(oldest.replace(tzinfo=dt.UTC), granularity).replace(tzinfo=None)
        partition = dict(
            zip(ROLLUP_PARTITION_KEY, (project_id, name, metric, granularity, period), strict=True)
        )
        rows = [
            {**partition, "bucket": row["bucket"], "category": row["category"]}
            for row in session.execute(select, (*partition.values(), before))
        ]
        if metric == EVENTS_METRIC and granularity != Granularity.MONTH:
            cql.delete(rows, table=Table.BUCKET_USERS, key=BUCKET_KEY)
            purged.bucket_users_partitions += len(rows)
        if end <= before:
            cql.delete([partition], table=Table.ROLLUPS, key=ROLLUP_PARTITION_KEY)
            purged.rollup_partitions += 1
        else:
            cql.delete(rows, table=Table.ROLLUPS, key=ROLLUP_KEY)
        purged.rollup_rows += len(rows)
    return purged
