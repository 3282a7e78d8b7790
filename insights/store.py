"""The query side's hand-written CQL: prepared reads of the rollups, the bucket users
and the raw events on the app's Cassandra session. Rows only; no query logic."""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connections

from spark import exact
from spark.schema import ALL_CATEGORIES, Table, period_strftime

from .errors import QueryError
from .timeframes import floor, shift

if TYPE_CHECKING:
    # cassandra-driver ships no type information (ignore_missing_imports): these are Any.
    from cassandra.cluster import ResponseFuture, Session
    from cassandra.query import PreparedStatement


def _session() -> Session:
    connection = connections["cassandra"].connection
    found = connection.session
    if found is None:
        # cqlengine's lazy connect marks a connection ready before its session exists:
        # another thread of this process is still connecting. Wait for it on the
        # connection's own lock (held while connecting), then ask again.
        from cassandra.cqlengine import connection as cqlengine

        with cqlengine.get_connection(name=connection.alias).lazy_connect_lock:
            found = cqlengine.get_session(connection=connection.alias)
    if found is None:
        raise ConnectionError("the Cassandra session is not connected")
    return found


def session() -> Session:
    """The app's Cassandra driver session (the ``cassandra`` database connection)."""
    return _session()


def keyspace() -> str:
    return connections["cassandra"].settings_dict["NAME"]


LATEST_PAGE_ROWS = 200


@lru_cache(maxsize=8)
def _statements(keyspace: str, session_id: int) -> dict:
    session = _session()
    return {
        Table.ROLLUPS: session.prepare(
            "SELECT bucket, category, count, uniques, sum, min, max, exact_sum, exact_min, "
            f"exact_max FROM {keyspace}.{Table.ROLLUPS} "
            "WHERE project_id=? AND name=? AND metric=? AND granularity=? AND period=? "
            "AND bucket IN ? AND category=?"
        ),
        Table.RAW_EVENTS: session.prepare(
            "SELECT event_time, event_id, category, distinct_id, received_at, properties "
            f"FROM {keyspace}.{Table.RAW_EVENTS} WHERE project_id=? AND name=? AND day=? "
            "AND event_time>=? AND event_time<?"
        ),
        "latest_raw_events": session.prepare(
            "SELECT event_time, event_id, category, distinct_id, received_at, properties "
            f"FROM {keyspace}.{Table.RAW_EVENTS} WHERE project_id=? AND name=? AND day=? "
            "AND event_time>=? AND event_time<? ORDER BY event_time DESC, event_id DESC"
        ),
        Table.BUCKET_USERS: session.prepare(
            f"SELECT distinct_id FROM {keyspace}.{Table.BUCKET_USERS} "
            "WHERE project_id=? AND name=? AND granularity=? AND bucket=? AND category=?"
        ),
    }


def _prepared(name: str) -> PreparedStatement:
    return _statements(keyspace(), id(_session()))[name]


def _buckets_by_period(
    granularity: str, start: dt.datetime, end: dt.datetime
) -> dict[str, list[dt.datetime]]:
    """The ``granularity`` bucket starts in ``[start, end)`` (naive UTC, as stored), by
    the partition period holding them."""
    found: dict[str, list[dt.datetime]] = {}
    current = floor(start, granularity)
    if current < start:
        current = shift(current, granularity, 1)
    while current < end:
        period = current.strftime(period_strftime(granularity))
        found.setdefault(period, []).append(current.replace(tzinfo=None))
        current = shift(current, granularity, 1)
    return found


def rollup_rows(
    *,
    project_id: str,
    name: str,
    metric: str,
    granularity: str,
    start: dt.datetime,
    end: dt.datetime,
    category: str = ALL_CATEGORIES,
) -> dict[dt.datetime, dict]:
    """Rollup rows of one metric and category in ``[start, end)``, by bucket start (UTC):
    ``count``, ``uniques``, and ``sum``, ``min``, ``max`` as exact Decimals (or None).

    Reads only ``category``'s rows: the table clusters by (bucket, category), and CQL
    cannot restrict ``category`` after a range on ``bucket``, so the read names the
    partition's buckets (``bucket IN ? AND category = ?``), one read per partition."""
    session = _session()
    statement = _prepared(Table.ROLLUPS)
    futures = [
        session.execute_async(
            statement, (project_id, name, metric, granularity, period, starts, category)
        )
        for period, starts in _buckets_by_period(granularity, start, end).items()
    ]
    rows = {}
    for future in futures:
        for row in future.result():
            rows[row["bucket"].replace(tzinfo=dt.UTC)] = _exact_row(row)
    return rows


def _exact_row(row: dict) -> dict:
    """A stored rollup row with its statistics as exact Decimals: the exact text
    columns, or for a row written before them, the legacy decimal columns."""
    stats = {}
    for name in ("sum", "min", "max"):
        text = row[f"exact_{name}"]
        stats[name] = exact.parse(text) if text is not None else row[name]
    return {"count": row["count"], "uniques": row["uniques"], **stats}


_IN_FLIGHT = 16  # bucket reads outstanding at once, so pages held stay bounded


def bucket_users(
    *,
    project_id: str,
    name: str,
    granularity: str,
    buckets: list[dt.datetime],
    category: str = ALL_CATEGORIES,
) -> set[str]:
    """Every distinct_id counted in any of ``buckets`` (exact unique users across them).

    Holds at most ``QUERY_MAX_UNIQUE_IDS`` ids: beyond, QueryError (the caller answers
    400) naming the limit, before reading further.
    """
    limit = settings.QUERY_MAX_UNIQUE_IDS
    session = _session()
    statement = _prepared(Table.BUCKET_USERS)

    def read(bucket: dt.datetime) -> ResponseFuture:
        return session.execute_async(
            statement, (project_id, name, granularity, _naive_utc(bucket), category)
        )

    pending = deque(read(bucket) for bucket in buckets[:_IN_FLIGHT])
    remaining = iter(buckets[_IN_FLIGHT:])
    users: set[str] = set()
    while pending:
        rows = pending.popleft().result()
        following = next(remaining, None)
        if following is not None:
            pending.append(read(following))
        for row in rows:
            users.add(row["distinct_id"])
            if len(users) > limit:
                raise QueryError(
                    "timeframe",
                    f"count_unique over this timeframe reads more than {limit} distinct "
                    "user ids (QUERY_MAX_UNIQUE_IDS); narrow the timeframe or add an interval",
                )
    return users


def raw_event_rows(
    *, project_id: str, name: str, day: dt.date, start: dt.datetime, end: dt.datetime
) -> Iterable[dict]:
    """The raw events of one (project, name, day) partition with ``start <= time < end``."""
    return _session().execute(
        _prepared(Table.RAW_EVENTS),
        (project_id, name, day, _naive_utc(start), _naive_utc(end)),
    )


def latest_raw_event_rows(
    *, project_id: str, name: str, day: dt.date, start: dt.datetime, end: dt.datetime
) -> Iterable[dict]:
    """The raw events of one (project, name, day) partition with ``start <= time < end``,
    newest first, fetched a page at a time as they are iterated."""
    bound = _prepared("latest_raw_events").bind(
        (project_id, name, day, _naive_utc(start), _naive_utc(end))
    )
    bound.fetch_size = LATEST_PAGE_ROWS
    return _session().execute(bound)


def _naive_utc(value: dt.datetime) -> dt.datetime:
    """``value`` in UTC without its zone, as the driver binds a timestamp."""
    return value.astimezone(dt.UTC).replace(tzinfo=None)
