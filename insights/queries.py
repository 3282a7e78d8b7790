"""The query service: Keen's analyses, from the rollups when they can answer, else
from a bounded scan of the raw events (``adhoc``).

``parse_query`` checks the parameters and names the one that is wrong; ``answer``
returns Keen's ``result``: a number (or list, or groups), or a list of
``{"timeframe": {"start", "end"}, "value"}`` when an interval is given. Unique users
across several buckets come from ``bucket_users``, so they stay exact.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal

from analytics_site.json_parsing import decode_json
from events.limits import current_limits
from spark import exact

from . import adhoc, selectors
from .timeframes import (
    QueryError,
    Timeframe,
    buckets,
    coarsest_granularity,
    floor,
    granularity_of,
    iso,
    parse_timezone,
    resolve_timeframe,
    shift,
)

ROLLUP_ANALYSES = ("count", "count_unique", "sum", "average", "minimum", "maximum")
ANALYSES = (*ROLLUP_ANALYSES, "median", "percentile", "select_unique")
NOT_NESTABLE = ("multi_analysis", "funnel")  # insights/compound.py
UNIQUE_TARGETS = ("distinct_id",)


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
    filters: tuple = ()
    group_by: tuple[str, ...] = ()
    order_by: object = None
    limit: object = None
    percentile: float | None = None
    tz: dt.tzinfo = dt.UTC

    @property
    def needs_raw_events(self) -> bool:
        """True when the rollups cannot answer this query exactly."""
        if self.filters or self.group_by or self.analysis not in ROLLUP_ANALYSES:
            return True
        if self.analysis == "count_unique" and self.target_property not in UNIQUE_TARGETS:
            return True
        if self.granularity == "minute":
            return True
        if self.tz is not dt.UTC:  # answered from hourly rollups, if hours tile the buckets
            return not all(floor(edge, "hour") == edge for group in local_groups(self)
                           for edge in group)  # fmt: skip
        try:
            coarsest_granularity(self.timeframe)
        except QueryError:
            return True
        return False


def local_groups(query: Query) -> list[tuple[dt.datetime, dt.datetime]]:
    """The (start, end) UTC instants of each result bucket (one without an interval)."""
    frame = query.timeframe
    if query.granularity is None:
        end = shift(floor(frame.end, "hour"), "hour", 1) if frame.open_end else frame.end
        return [(frame.start, end)]
    return [
        (start, shift(start, query.granularity, 1, query.tz))
        for start in buckets(frame, query.granularity, query.tz)
    ]


def _empty(value: object) -> bool:
    if isinstance(value, str):
        try:
            value = decode_json(value) if value.strip()[:1] in "[{" else value
        except ValueError:
            return False
    return value in (None, "", [], {})


def parse_query(analysis: str, params, *, now: dt.datetime) -> Query:
    """A checked Query from Keen-style parameters; QueryError names the bad one.

    Bounds: ``event_collection`` at most ``max_name_length`` (255) characters,
    ``target_property`` at most :func:`max_path_length` (2,047), both without lone
    surrogates; ``limit`` and ``window`` whole numbers; timeframes inside
    ``timeframes.EARLIEST``..``LATEST``.
    """
    if analysis in NOT_NESTABLE:
        raise QueryError("analysis_type", f"{analysis} cannot be nested")
    if analysis not in ANALYSES:
        raise QueryError("analysis", f"{analysis!r} is not one of {', '.join(ANALYSES)}")
    collection = event_collection_of(params.get("event_collection"), field="event_collection")
    target = params.get("target_property") or None
    if analysis != "count" and not target:
        raise QueryError("target_property", f"is required for {analysis}")
    if target is not None:
        target = checked_name(target, field="target_property", max_length=max_path_length())
    tz = parse_timezone(params.get("timezone"))
    granularity = granularity_of(params.get("interval"))
    query = Query(
        analysis=analysis,
        event_collection=collection,
        target_property=target,
        timeframe=resolve_timeframe(params.get("timeframe"), now=now, tz=tz),
        granularity=granularity,
        tz=tz,
        moving_average=_moving_average(params, granularity),
        filters=tuple(adhoc.parse_filters(params.get("filters"))),
        group_by=_group_by(params.get("group_by")),
        order_by=params.get("order_by") or None,
        limit=_limit(params.get("limit")),
        percentile=_percentile(analysis, params.get("percentile")),
    )
    if query.order_by and not query.group_by:
        raise QueryError("order_by", "needs group_by")
    if query.moving_average and query.group_by:
        raise QueryError("group_by", "cannot be combined with a moving average")
    return query


def checked_name(value: object, *, field: str, max_length: int) -> str:
    """``value`` if it is a non-empty string of at most ``max_length`` characters and
    valid Unicode text (no lone surrogate, which no store can encode); else QueryError
    naming ``field`` and the limit."""
    if value is None or value == "":
        raise QueryError(field, "is required")
    if not isinstance(value, str):
        raise QueryError(field, "must be a string")
    if len(value) > max_length:
        raise QueryError(
            field, f"is {len(value)} characters long, exceeding the limit of {max_length}"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise QueryError(field, "must be valid Unicode text (it holds a lone surrogate)") from None
    return value


def event_collection_of(value: object, *, field: str) -> str:
    """An event name as queried: what :func:`checked_name` allows, at most the ingestion
    limit ``max_name_length`` (255) characters: a longer name was never stored."""
    return checked_name(value, field=field, max_length=current_limits().max_name_length)


def max_path_length() -> int:
    """The longest dotted property path ingestion can store: ``max_property_depth``
    names of at most ``max_property_name_length`` characters (2,047 by default)."""
    limits = current_limits()
    return limits.max_property_depth * (limits.max_property_name_length + 1) - 1


def whole_number(value: object, *, field: str, requirement: str) -> int:
    """``value`` as an int: an integer, an integral finite float or a decimal string;
    else QueryError naming ``field`` with ``requirement``."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise QueryError(field, requirement)


def _limit(value: object) -> int | None:
    """Keen's ``limit`` on grouped results: a whole number, at least 1; None when absent."""
    if value in (None, ""):
        return None
    count = whole_number(value, field="limit", requirement="must be a whole number")
    if count < 1:
        raise QueryError("limit", "must be at least 1")
    return count


def _group_by(value: object) -> tuple[str, ...]:
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = decode_json(value)
        except ValueError:
            raise QueryError("group_by", "is not valid JSON") from None
    if value in (None, "", []):
        return ()
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise QueryError("group_by", "must be a property name or a list of them")
    return tuple(names)


def _percentile(analysis: str, value: object) -> float | None:
    if analysis != "percentile":
        return None
    try:
        percent = float(value)
    except (TypeError, ValueError):
        raise QueryError(
            "percentile", "is required for percentile: a number from 0 to 100"
        ) from None
    if not 0 <= percent <= 100:
        raise QueryError("percentile", "must be from 0 to 100")
    return percent


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
    size = whole_number(
        window, field="window", requirement=f"is required for {kind}: a whole number of buckets"
    )
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


def _series(query: Query, values: list[tuple[dt.datetime, dt.datetime, object]]) -> list[dict]:
    series = [
        {"timeframe": {"start": iso(start, query.tz), "end": iso(stop, query.tz)}, "value": value}
        for start, stop, value in values
    ]
    if query.moving_average is not None:
        return with_moving_average(series, query.moving_average)
    return series


def _combine(analysis: str, rows: list[dict]) -> int | float | str | None:
    """One analysis over rollup rows, in the raw scan's arithmetic (``spark.exact``)."""
    if analysis == "count":
        return sum(row["count"] or 0 for row in rows)
    values = [row for row in rows if row["count"]]
    if analysis == "sum":
        return exact.json_number(exact.total(row["sum"] or Decimal(0) for row in values))
    if not values:
        return None
    if analysis == "minimum":
        return exact.json_number(exact.smallest(r["min"] for r in values if r["min"] is not None))
    if analysis == "maximum":
        return exact.json_number(exact.largest(r["max"] for r in values if r["max"] is not None))
    total = exact.total(row["sum"] or Decimal(0) for row in values)
    return exact.mean(total, sum(row["count"] for row in values))


def answer_from_raw_events(*, project_id: str, query: Query) -> object:
    """Keen's ``result`` from a bounded scan of the raw events."""
    events = [
        view
        for view in map(adhoc.event_view, adhoc.scan(
            project_id=project_id, name=query.event_collection, timeframe=query.timeframe))
        if adhoc.matches(view, list(query.filters))
    ]  # fmt: skip

    def result(members: list[dict]):
        if query.group_by:
            rows = adhoc.grouped(
                query.analysis, members, target=query.target_property,
                percentile=query.percentile, group_by=list(query.group_by),
            )  # fmt: skip
            return adhoc.order_and_limit(rows, query.order_by, query.limit)
        return adhoc.analyse(query.analysis, members, query.target_property, query.percentile)

    if query.granularity is None:
        return result(events)
    by_bucket: dict[dt.datetime, list[dict]] = {}
    for event in events:
        moment = dt.datetime.fromisoformat(event["keen"]["timestamp"])
        by_bucket.setdefault(floor(moment, query.granularity, query.tz), []).append(event)
    return _series(query, [(a, b, result(by_bucket.get(a, []))) for a, b in local_groups(query)])


def answer_from_hours(*, project_id: str, query: Query) -> object:
    """Keen's ``result`` in a time zone other than UTC, regrouping hourly rollups (and,
    for unique users, the union of each hour's users) into the zone's buckets."""
    groups = local_groups(query)
    if query.analysis == "count_unique":
        values = []
        for start, stop in groups:
            hours = buckets(Timeframe(start, stop), "hour")
            users = selectors.bucket_users(
                project_id=project_id, name=query.event_collection, granularity="hour",
                buckets=hours,
            )  # fmt: skip
            values.append(len(users))
    else:
        metric = "events" if query.analysis == "count" else f"property:{query.target_property}"
        rows = selectors.rollup_rows(
            project_id=project_id, name=query.event_collection, metric=metric,
            granularity="hour", start=groups[0][0], end=groups[-1][1],
        )  # fmt: skip
        values = [
            _combine(query.analysis, [row for hour, row in rows.items() if start <= hour < stop])
            for start, stop in groups
        ]
    if query.granularity is None:
        return values[0]
    return _series(query, [(a, b, v) for (a, b), v in zip(groups, values, strict=True)])


def answer(*, project_id: str, query: Query) -> object:
    """Keen's ``result`` for ``query``: from the rollups when they can answer it exactly."""
    if query.needs_raw_events:
        return answer_from_raw_events(project_id=project_id, query=query)
    if query.tz is not dt.UTC:
        return answer_from_hours(project_id=project_id, query=query)
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
    values = []
    for start in starts:
        stop = shift(start, granularity, 1)
        if query.analysis == "count_unique":
            if granularity == "month":
                value = users(buckets(Timeframe(start, stop), "day"), "day")
            else:
                value = (rows.get(start) or {}).get("uniques") or 0
        else:
            value = _combine(query.analysis, [rows[start]] if start in rows else [])
        values.append((start, stop, value))
    return _series(query, values)
