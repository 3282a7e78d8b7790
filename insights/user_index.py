"""The ``user_events`` index for events stored before it existed: ``backfill`` reads a
project's raw events one partition (an event name's UTC day, found through the daily
rollups) at a time and writes each identified event's index row, with the TTL its raw
copy has under the project's retention. It runs under the aggregation lease, so no
deletion or retention rewrite changes the raw events under it; rerunning it is safe
(the rows are upserts of the same keys)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from spark.schema import USER_EVENT_KEY, Table

from .exports import days_with_events
from .lease import exclusive_run
from .models import EventCollection
from .retention import raw_retention

logger = logging.getLogger(__name__)


def backfill(
    project_id: str, *, wait_seconds: float = 600, progress: Callable[[str], None] = logger.info
) -> int:
    """Index every stored event of ``project_id`` that has a distinct id; return how many."""
    from spark.driver_batch import stamped
    from spark.retention import TTL_COLUMN, with_ttl_rows

    from .aggregation import _driver_store

    names = EventCollection.objects.filter(project_id=project_id).values_list("name", flat=True)
    partitions = [
        (project_id, name, day)
        for name in names
        for day in days_with_events(project_id, name, start=None, end=None)
    ]
    retention = raw_retention()
    indexed = 0
    with exclusive_run(wait_seconds=wait_seconds) as lease:
        cql = _driver_store(lease)
        for number, partition in enumerate(partitions, 1):
            rows = [row for row in cql.raw_partition(partition) if row["distinct_id"] is not None]
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            rows = with_ttl_rows(stamped(rows, batch_id=0), retention, now=now)  # 0: no batch
            columns = (*USER_EVENT_KEY, "batch_id")
            cql.write(rows, table=Table.USER_EVENTS, columns=columns, ttl_column=TTL_COLUMN)
            indexed += len(rows)
            progress(
                f"partition {number}/{len(partitions)} {partition[1]} {partition[2]}: {len(rows)}"
            )
    return indexed
