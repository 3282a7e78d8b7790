"""The query service: Keen's analyses answered from the rollups (the fast path).

``parse_query`` checks the parameters and names the one that is wrong;
``answer`` reads the rollups and returns Keen's ``result``: a number, or a list of
``{"timeframe": {"start", "end"}, "value"}`` when an interval is given. Unique users
across several buckets come from ``bucket_users``, so they stay exact.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

from . import selectors
from .timeframes import (
    QueryError,
    Timeframe,
    buckets,
    check_timezone,
    coarsest_granularity,
    floor,
    granularity_of,
    resolve_timeframe,
    shift,
)

ANALYSES = ("count", "count_unique", "sum", "average", "minimum", "maximum")
NOT_YET = ("median", "percentile", "select_unique", "multi_analysis", "funnel")
UNIQUE_TARGETS = ("distinct_id",)
NOT_YET_PARAMETERS = ("filters", "group_by", "order_by")


MOVING_AVERAGE_KINDS = ("sma", "ema", "wma", "cma")


@dataclass(frozen=True)
class MovingAverage:
    kind: str
    window: int | None  # None for cma


@dataclass(frozen=True)
class Query:
    analysis: str
    event_collection: str
    target_property: str | None
    timeframe: Timeframe
    granularity: str | None  # None: one number for the whole timeframe
    moving_average: MovingAverage | None = None


def _empty(value: object) -> bool:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip()[:1] in "[{" else value
        except ValueError:
            return False
    return value in (None, "", [], {})


def parse_query(analysis: str, params, *, now: dt.datetime) -> Query:
    """A checked Query from Keen-style parameters; QueryError names the bad one."""
    if analysis in NOT_YET:
        raise QueryError("analysis", f"{analysis} is not supported yet")
    if analysis not in ANALYSES:
        raise QueryError("analysis", f"{analysis!r} is not one of {', '.join(ANALYSES)}")
    collection = params.get("event_collection")
    if not collection or not isinstance(collection, str):
        raise QueryError("event_collection", "is required")
    target = params.get("target_property") or None
    if analysis != "count" and not target:
        raise QueryError("target_property", f"is required for {analysis}")
    if analysis == "count_unique" and target not in UNIQUE_TARGETS:
        raise QueryError(
            "target_property",
            "count_unique counts distinct_id for now; other properties are not supported yet",
        )
    for name in NOT_YET_PARAMETERS:
        if not _empty(params.get(name)):
            raise QueryError(name, "is not supported yet")
    check_timezone(params.get("timezone"))
    granularity = granularity_of(params.get("interval"))
    return Query(
        analysis=analysis,
        event_collection=collection,
        target_property=target,
        timeframe=resolve_timeframe(params.get("timeframe"), now=now),
        granularity=granularity,
        moving_average=_moving_average(params, granularity),
    )


def _moving_average(params, granularity: str | None) -> MovingAverage | None:
    """``kind`` (sma, ema, wma, cma) and ``window`` (n; the span for ema), or None."""
    kind = params.get("kind")
    if kind in (None, ""):
        if params.get("window") not in (None, ""):
            raise QueryError("kind", "is required with window: one of sma, ema, wma, cma")
        return None
    if kind not in MOVING_AVERAGE_KINDS:
        raise QueryError("kind", f"{kind!r} is not one of {', '.join(MOVING_AVERAGE_KINDS)}")
    if granularity is None:
        raise QueryError("interval", "is required for a moving average")
    window = params.get("window")
    if kind == "cma":
        if window not in (None, ""):
            raise QueryError("window", "does not apply to cma")
        return MovingAverage(kind, None)
    try:
        size = int(window)
    except (TypeError, ValueError):
        raise QueryError("window", f"is required for {kind}: a whole number of buckets") from None
    if not 1 <= size <= 2500:
        raise QueryError("window", "must be between 1 and 2500")
    return MovingAverage(kind, size)


def with_moving_average(series: list[dict], average: MovingAverage) -> list[dict]:
    """``series`` with ``moving_average`` on each point, from the movingavg engines.

    Points without a value (an empty bucket's minimum, say) get None and do not
    enter the average."""
    from movingavg.factory import create_moving_average

    engine = create_moving_average(average.kind, average.window)
    result = []
    for point in series:
        value = point["value"]
        if value is not None:
            engine.addElement(value)
        moving = engine.getMovingAverage() if value is not None else None
        result.append({**point, "moving_average": moving})
    return result


def _number(value: Decimal | int | None) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _combine(analysis: str, rows: list[dict]) -> int | float | None:
    if analysis == "count":
        return sum(row["count"] or 0 for row in rows)
    if analysis == "sum":
        return _number(sum((row["sum"] or Decimal(0) for row in rows), Decimal(0)))
    values = [row for row in rows if row["count"]]
    if not values:
        return None
    if analysis == "minimum":
        return _number(min(row["min"] for row in values))
    if analysis == "maximum":
        return _number(max(row["max"] for row in values))
    total = sum((row["sum"] for row in values), Decimal(0))
    return float(total / sum(row["count"] for row in values))


def answer(*, project_id: str, query: Query) -> object:
    """Keen's ``result`` for ``query`` over ``project_id``'s rollups."""
    metric = (
        "events"
        if query.analysis in ("count", "count_unique")
        else f"property:{query.target_property}"
    )
    granularity = query.granularity or coarsest_granularity(query.timeframe)
    if query.analysis == "count_unique" and granularity == "month":
        granularity = "day" if query.granularity is None else granularity
    starts = buckets(query.timeframe, granularity)
    if not starts:
        return [] if query.granularity else 0
    end = shift(floor(starts[-1], granularity), granularity, 1)

    def users(bucket_starts: list[dt.datetime], level: str) -> int:
        return len(
            selectors.bucket_users(
                project_id=project_id, name=query.event_collection, granularity=level,
                buckets=bucket_starts,
            )
        )  # fmt: skip

    if query.analysis == "count_unique" and query.granularity is None:
        return users(starts, granularity)
    rows = selectors.rollup_rows(
        project_id=project_id,
        name=query.event_collection,
        metric=metric,
        granularity=granularity,
        start=starts[0],
        end=end,
    )
    if query.granularity is None:
        return _combine(query.analysis, list(rows.values()))
    series = []
    for start in starts:
        stop = shift(start, granularity, 1)
        if query.analysis == "count_unique":
            if granularity == "month":
                days = buckets(Timeframe(start, stop), "day")
                value = users(days, "day")
            else:
                value = (rows.get(start) or {}).get("uniques") or 0
        else:
            value = _combine(query.analysis, [rows[start]] if start in rows else [])
        series.append({"timeframe": {"start": _iso(start), "end": _iso(stop)}, "value": value})
    if query.moving_average is not None:
        return with_moving_average(series, query.moving_average)
    return series
