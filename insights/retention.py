"""Per-project raw-event retention (``Project.raw_retention_days``).

Raw events disappear through Cassandra TTLs written with them (``spark.retention``):
an event lives ``raw_retention_days`` from its timestamp. Rollups are kept. Queries
that would read raw events from before the retention answer a 400 saying so
(``check_raw_window``). When a project's retention changes, ``apply_retention``
rewrites what is already stored: raw events beyond the new retention are deleted, the
others get the new TTL (none, when the retention is removed).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from django.utils import timezone

from events.models import Project
from spark.schema import RAW_EVENT_COLUMNS, RAW_EVENT_KEY, USER_EVENT_KEY, Table

from . import store
from .engine_queue import send
from .errors import QueryError
from .lease import exclusive_run
from .models import EventCollection

if TYPE_CHECKING:
    from .lease import Lease

logger = logging.getLogger(__name__)
EPOCH = dt.datetime(1970, 1, 1)


def raw_retention() -> dict[str, int]:
    """project_id -> days, for the projects that keep raw events for a limited time."""
    found = Project.objects.filter(raw_retention_days__isnull=False)
    return {
        project_id: days
        for project_id, days in found.values_list("id", "raw_retention_days")
        if days is not None
    }


def check_raw_window(project_id: str, start: dt.datetime) -> None:
    """QueryError when a query reading raw events from ``start`` reaches before what
    the project keeps."""
    days = Project.objects.filter(pk=project_id).values_list("raw_retention_days", flat=True)
    kept = days.first()
    if kept is None:
        return
    oldest = timezone.now() - dt.timedelta(days=kept)
    since = oldest.isoformat(timespec="seconds")
    if start < oldest:
        raise QueryError(
            "timeframe",
            f"this query reads raw events from {start.isoformat()}, but this project keeps "
            f"raw events {kept} days (raw_retention_days: from {since}); narrow the "
            "timeframe, or ask what the rollups answer (no filters, group_by or minutely "
            "interval)",
        )


def queue_apply(project_id: str) -> None:
    """Queue ``apply_retention`` for a project whose retention changed."""
    send("insights.apply_retention", project_id, unsent="save the retention again")


def queue_purge(project_id: str) -> None:
    """Queue the purge of a project whose rollup retention changed
    (``insights.rollup_retention``)."""
    send("insights.purge_rollups", project_id, unsent="the daily purge does it")


def apply_retention(project_id: str, *, wait_seconds: float = 600) -> int:
    """Rewrite the project's stored raw events for its current retention, under the
    aggregation lease; return the raw events kept (rewritten)."""
    with exclusive_run(wait_seconds=wait_seconds) as lease:
        return _rewrite(project_id, lease)


def _rewrite(project_id: str, lease: Lease) -> int:
    from pyspark.sql import functions as F

    from spark.io import lookup, write_table
    from spark.retention import TTL_COLUMN, with_ttl

    from .exports import days_with_events
    from .spark_runtime import get_session

    days = Project.objects.get(pk=project_id).raw_retention_days
    names = EventCollection.objects.filter(project_id=project_id).values_list("name", flat=True)
    partitions = [
        (project_id, name, day)
        for name in names
        for day in days_with_events(project_id, name, start=None, end=None)
    ]
    if not partitions:
        return 0
    spark = get_session()
    keys = spark.createDataFrame(partitions, "project_id string, name string, day date")
    stored = lookup(spark, keys, keyspace=store.keyspace(), table=Table.RAW_EVENTS)
    stored = stored.select(*RAW_EVENT_COLUMNS, "batch_id").persist()
    try:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        kept = with_ttl(spark, stored, {project_id: days} if days else {}, now=now).persist()
        expired = stored.join(kept.select(*RAW_EVENT_KEY), list(RAW_EVENT_KEY), "left_anti")
        gone = [
            {**row.asDict(), "event_time": EPOCH + dt.timedelta(microseconds=row["micros"])}
            for row in expired.select(
                "project_id",
                "name",
                "day",
                "event_id",
                "distinct_id",
                F.unix_micros("event_time").alias("micros"),
            ).collect()
        ]
        for table, rows in (
            (Table.RAW_EVENTS, kept),
            (Table.USER_EVENTS, kept.where(kept.distinct_id.isNotNull())),
        ):
            columns = RAW_EVENT_COLUMNS if table == Table.RAW_EVENTS else USER_EVENT_KEY
            write_table(
                rows.select(*columns, "batch_id", TTL_COLUMN),
                keyspace=store.keyspace(),
                table=table,
                timestamp=lease.write_timestamp(),
                ttl_column=TTL_COLUMN,
            )
        written = kept.count()
        kept.unpersist()
    finally:
        stored.unpersist()
    _delete(gone, lease)
    logger.info("retention of %s: %d raw events kept, %d deleted", project_id, written, len(gone))
    return written


def _delete(rows: list[dict], lease: Lease) -> None:
    """Delete raw events (and their index rows) beyond the retention."""
    from .aggregation import _driver_store

    cql = _driver_store(lease)
    cql.delete(rows, table=Table.RAW_EVENTS, key=RAW_EVENT_KEY)
    indexed = [row for row in rows if row["distinct_id"] is not None]
    cql.delete(indexed, table=Table.USER_EVENTS, key=USER_EVENT_KEY)
