"""The store reads of one answer, each done once: the labels of a ``multi_analysis``
(and the steps of a funnel) that need the same rows share one read or scan.

The raw scan is bounded here: ``AD_HOC_MAX_DAYS`` day partitions and
``AD_HOC_MAX_EVENTS`` events, beyond which QueryError asks to narrow the timeframe.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import TypeVar, cast

from django.conf import settings

from spark.schema import Granularity

from . import store
from .errors import QueryError
from .retention import check_raw_window
from .rollup_retention import check_buckets, retention_days
from .timeframes import Timeframe, floor, shift

_T = TypeVar("_T")


class Reads:
    """Memoised reads of ``project_id``'s rows; one instance per answer (not shared
    between requests, so every answer sees the store as it is)."""

    def __init__(self, *, project_id: str) -> None:
        self.project_id = project_id
        self._done: dict[tuple, object] = {}
        self.events_scanned = 0  # raw-event rows read
        self.rollup_rows_read = 0
        self.bucket_users_read = 0  # distinct ids read from bucket_users

    @cached_property
    def _rollup_retention(self) -> int | None:
        return retention_days(self.project_id)

    def _check_rollups(self, granularity: str, first: dt.datetime) -> None:
        """QueryError when the read needs buckets the rollup retention may have purged."""
        check_buckets(self._rollup_retention, granularity=granularity, first=first)

    def _once(self, key: tuple, read: Callable[[], _T]) -> _T:
        if key not in self._done:
            self._done[key] = read()
        # Each key names one read (its kind and arguments), so its value is what read returns.
        return cast(_T, self._done[key])

    def rollup_rows(
        self, *, name: str, metric: str, granularity: str, start: dt.datetime, end: dt.datetime
    ) -> dict[dt.datetime, dict]:
        """``store.rollup_rows`` of every category together (``all``)."""
        self._check_rollups(granularity, start)

        def read() -> dict[dt.datetime, dict]:
            rows = store.rollup_rows(
                project_id=self.project_id,
                name=name,
                metric=metric,
                granularity=granularity,
                start=start,
                end=end,
            )
            self.rollup_rows_read += len(rows)
            return rows

        return self._once(("rollups", name, metric, granularity, start, end), read)

    def bucket_users(self, *, name: str, granularity: str, buckets: list[dt.datetime]) -> set[str]:
        """``store.bucket_users``: the distinct ids of any of ``buckets`` (do not mutate)."""
        if buckets:
            self._check_rollups(granularity, min(buckets))

        def read() -> set[str]:
            users = store.bucket_users(
                project_id=self.project_id, name=name, granularity=granularity, buckets=buckets
            )
            self.bucket_users_read += len(users)
            return users

        return self._once(("users", name, granularity, tuple(buckets)), read)

    def raw_events(self, *, name: str, timeframe: Timeframe) -> list[dict]:
        """The raw-event rows of ``name`` in ``timeframe`` (``scan``)."""
        return self._once(
            ("raw", name, timeframe.start, timeframe.end),
            lambda: list(self.stream(name=name, timeframe=timeframe)),
        )

    def stream(self, *, name: str, timeframe: Timeframe) -> Iterator[dict]:
        """``scan``'s rows as they are read (not kept: for a funnel's steps), counted."""
        for row in scan(project_id=self.project_id, name=name, timeframe=timeframe):
            self.events_scanned += 1
            yield row


def scan(*, project_id: str, name: str, timeframe: Timeframe) -> Iterator[dict]:
    """The raw events of ``name`` in ``timeframe``, one day partition at a time.

    Raises QueryError (the caller answers 400) beyond AD_HOC_MAX_DAYS day partitions or
    AD_HOC_MAX_EVENTS events, or before the project's raw retention: the caller must
    narrow the timeframe.
    """
    check_raw_window(project_id, timeframe.start)
    days = []
    day = floor(timeframe.start, Granularity.DAY)
    while day < timeframe.end:
        days.append(day)
        day = shift(day, Granularity.DAY, 1)
    if len(days) > settings.AD_HOC_MAX_DAYS:
        raise QueryError(
            "timeframe",
            f"this query reads raw events and spans {len(days)} days, beyond the limit of "
            f"{settings.AD_HOC_MAX_DAYS}; narrow the timeframe",
        )
    seen = 0
    for day in days:
        rows = store.raw_event_rows(
            project_id=project_id,
            name=name,
            day=day.date(),
            start=timeframe.start,
            end=timeframe.end,
        )
        for row in rows:
            seen += 1
            if seen > settings.AD_HOC_MAX_EVENTS:
                raise QueryError(
                    "timeframe",
                    f"this query reads more than {settings.AD_HOC_MAX_EVENTS} raw events; "
                    "narrow the timeframe",
                )
            yield row
