"""The newest raw events of a collection, for the admin's event explorer and Keen's
``extraction(latest=N)``: a bounded scan, newest day partition first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import store
from .raw_answers import event_view

MAX_SCANNED_ROWS = 10_000


@dataclass(frozen=True)
class LatestEvents:
    """Up to ``limit`` events, newest first; ``scanned`` rows were read, and
    ``exhausted`` says whether the whole timeframe was (False: the scan bound stopped it)."""

    events: list[dict[str, Any]]
    scanned: int
    exhausted: bool


def latest_events(
    *,
    project_id: str,
    name: str,
    start: dt.datetime,
    end: dt.datetime,
    distinct_id: str | None = None,
    keep: Callable[[dict[str, Any]], bool] | None = None,
    limit: int = 50,
    max_scanned: int = MAX_SCANNED_ROWS,
) -> LatestEvents:
    """The newest ``limit`` events of ``name`` with ``start <= time < end`` (and of
    ``distinct_id``, and passing ``keep``, if given), each as a query sees it
    (properties, ``distinct_id``, ``category`` and Keen's ``keen`` block); reads at most
    ``max_scanned`` rows."""
    events: list[dict[str, Any]] = []
    scanned = 0
    day = (end - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date()
    first_day = start.astimezone(dt.UTC).date()
    while day >= first_day:
        rows = store.latest_raw_event_rows(
            project_id=project_id, name=name, day=day, start=start, end=end
        )
        for row in rows:
            if scanned >= max_scanned:
                return LatestEvents(events, scanned, exhausted=False)
            scanned += 1
            if distinct_id is None or row["distinct_id"] == distinct_id:
                view = event_view(row)
                if keep is not None and not keep(view):
                    continue
                events.append(view)
                if len(events) == limit:
                    return LatestEvents(events, scanned, exhausted=False)
        day -= dt.timedelta(days=1)
    return LatestEvents(events, scanned, exhausted=True)
