"""The query model: Keen's analyses as a checked ``Query``, and its ``Plan``.

``parse_query`` checks every parameter before anything is read (filters, ``order_by``
and ``limit`` included) and names the one that is wrong. ``plan_of`` decides, once, how
the query is answered: from the rollups (UTC), from stored buckets regrouped into
weeks, years or a time zone's buckets, or from a bounded scan of the raw events (``raw_answers``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cached_property
from typing import SupportsFloat, cast

from events.json_parsing import decode_json
from events.limits import current_limits
from movingavg.engines import KINDS
from spark.schema import Granularity

from .errors import QueryError
from .timeframes import (
    MAX_BUCKETS,
    MINUTE,
    REGROUPED_INTERVALS,
    Timeframe,
    buckets,
    coarsest_granularity,
    floor,
    granularity_of,
    parse_timezone,
    resolve_timeframe,
    shift,
)

ROLLUP_ANALYSES = ("count", "count_unique", "sum", "average", "minimum", "maximum")
ANALYSES = (*ROLLUP_ANALYSES, "median", "percentile", "select_unique")
COMPOUND_ANALYSES = ("multi_analysis", "funnel")  # insights/compound.py
UNIQUE_TARGETS = ("distinct_id",)
OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "exists", "in", "contains", "not_contains")
DIRECTIONS = ("ASC", "DESC")
MAX_WINDOW = MAX_BUCKETS  # a moving average's window, in buckets

Params = Mapping[str, object]


@dataclass(frozen=True)
class MovingAverage:
    kind: str  # one of movingavg.KINDS
    window: int | None  # None for cma


class Source(StrEnum):
    """Where a query's answer comes from."""

    ROLLUPS = "rollups"  # UTC buckets of ``Plan.granularity``
    REGROUPED_ROLLUPS = "regrouped_rollups"  # stored buckets regrouped: weeks, years, zones
    RAW_EVENTS = "raw_events"  # a bounded scan (filters, group_by, raw-only analyses)


@dataclass(frozen=True)
class Plan:
    source: Source
    granularity: str | None  # the stored granularity read; None for raw events


@dataclass(frozen=True)
class Query:
    analysis: str
    event_collection: str
    target_property: str | None
    timeframe: Timeframe
    granularity: str | None  # None: one number for the whole timeframe
    moving_average: MovingAverage | None = None
    filters: tuple[dict, ...] = ()
    group_by: tuple[str, ...] = ()
    order_by: tuple[dict, ...] = ()  # {"property_name", "direction"}, applied last first
    limit: int | None = None
    percentile: float | None = None
    tz: dt.tzinfo = dt.UTC

    @cached_property
    def plan(self) -> Plan:
        """How this query is answered (``plan_of``), computed once."""
        return plan_of(self)

    @property
    def needs_raw_events(self) -> bool:
        """True when the rollups cannot answer this query exactly."""
        return self.plan.source is Source.RAW_EVENTS


def plan_of(query: Query) -> Plan:
    """The rollups when they answer ``query`` exactly, else the raw events."""
    raw = Plan(Source.RAW_EVENTS, None)
    if query.filters or query.group_by or query.analysis not in ROLLUP_ANALYSES:
        return raw
    if query.analysis == "count_unique" and query.target_property not in UNIQUE_TARGETS:
        return raw
    if query.granularity == MINUTE:
        return raw
    if query.tz is not dt.UTC or query.granularity in REGROUPED_INTERVALS:
        # answered by regrouping the coarsest stored buckets that tile the query's buckets
        edges = [edge for group in local_groups(query) for edge in group]
        for stored in (Granularity.MONTH, Granularity.DAY, Granularity.HOUR):
            if all(floor(edge, stored) == edge for edge in edges):
                return Plan(Source.REGROUPED_ROLLUPS, stored)
        return raw
    try:
        coarsest = coarsest_granularity(query.timeframe)
    except QueryError:
        return raw
    granularity = query.granularity or coarsest
    if query.analysis == "count_unique" and query.granularity is None:
        # unique users are exact per stored bucket; months are unions of days
        granularity = Granularity.DAY if granularity == Granularity.MONTH else granularity
    return Plan(Source.ROLLUPS, granularity)


def local_groups(query: Query) -> list[tuple[dt.datetime, dt.datetime]]:
    """The (start, end) UTC instants of each result bucket (one without an interval)."""
    frame = query.timeframe
    if query.granularity is None:
        if not frame.open_end:
            return [(frame.start, frame.end)]
        return [(frame.start, shift(floor(frame.end, Granularity.HOUR), Granularity.HOUR, 1))]
    return [
        (start, shift(start, query.granularity, 1, query.tz))
        for start in buckets(frame, query.granularity, query.tz)
    ]


def parse_query(analysis: str, params: Params, *, now: dt.datetime) -> Query:
    """A checked Query from Keen-style parameters; QueryError names the bad one.

    Bounds: ``event_collection`` at most ``max_name_length`` (255) characters,
    ``target_property`` at most :func:`max_path_length` (2,047), both without lone
    surrogates; ``limit`` and ``window`` whole numbers; timeframes inside
    ``timeframes.EARLIEST``..``LATEST``.
    """
    if analysis in COMPOUND_ANALYSES:
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
        filters=tuple(parse_filters(params.get("filters"))),
        group_by=_group_by(params.get("group_by")),
        limit=_limit(params.get("limit")),
        percentile=_percentile(analysis, params.get("percentile")),
    )
    order_by = params.get("order_by") or None
    if order_by and not query.group_by:
        raise QueryError("order_by", "needs group_by")
    if query.moving_average and query.group_by:
        raise QueryError("group_by", "cannot be combined with a moving average")
    order = parse_order_by(order_by)
    if query.group_by and query.limit is not None and not order:
        raise QueryError("limit", "needs order_by")
    return replace(query, order_by=order)


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


def max_age_of(value: object) -> float | None:
    """Keen's ``max_age``: seconds, 0 or more; None when absent."""
    if value in (None, ""):
        return None
    try:
        # float() raises TypeError for a value it takes no number from; caught below.
        seconds = float(cast(SupportsFloat, value))
    except (TypeError, ValueError):
        raise QueryError("max_age", "must be a number of seconds") from None
    if not seconds >= 0:  # NaN too
        raise QueryError("max_age", "must be 0 or more")
    return seconds


def parse_filters(value: object) -> list[dict]:
    """Keen filters (a list, or its JSON) checked: property_name, operator, property_value."""
    if isinstance(value, str):
        try:
            value = decode_json(value)
        except ValueError:
            raise QueryError("filters", "is not valid JSON") from None
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise QueryError("filters", "must be a list of {property_name, operator, property_value}")
    checked = []
    for index, item in enumerate(value):
        field = f"filters[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("property_name"), str):
            raise QueryError(field, "needs a property_name")
        if item.get("operator") not in OPERATORS:
            raise QueryError(f"{field}.operator", f"must be one of {', '.join(OPERATORS)}")
        if item["operator"] == "in" and not isinstance(item.get("property_value"), list):
            raise QueryError(f"{field}.property_value", "must be a list for the in operator")
        if item["operator"] == "exists" and not isinstance(item.get("property_value"), bool):
            raise QueryError(
                f"{field}.property_value", "must be true or false for the exists operator"
            )
        checked.append(item)
    return checked


def parse_order_by(value: object) -> tuple[dict, ...]:
    """Keen's ``order_by`` (a property name or ``{property_name, direction}``, a list of
    them, or its JSON) as ``{"property_name", "direction"}`` specs; () when absent."""
    if isinstance(value, str) and value.strip()[:1] in "[{":
        try:
            value = decode_json(value)
        except ValueError:
            raise QueryError("order_by", "is not valid JSON") from None
    specs = value if isinstance(value, list | tuple) else [value] if value else []
    checked = []
    for spec in specs:
        if isinstance(spec, str):
            spec = {"property_name": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("property_name"), str):
            raise QueryError("order_by", "needs property_name (and direction ASC or DESC)")
        direction = str(spec.get("direction", "ASC")).upper()
        if direction not in DIRECTIONS:
            raise QueryError("order_by", "direction must be ASC or DESC")
        checked.append({"property_name": spec["property_name"], "direction": direction})
    return tuple(checked)


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
        # float() raises TypeError for a value it takes no number from; caught below.
        percent = float(cast(SupportsFloat, value))
    except (TypeError, ValueError):
        raise QueryError(
            "percentile", "is required for percentile: a number from 0 to 100"
        ) from None
    if not 0 <= percent <= 100:
        raise QueryError("percentile", "must be from 0 to 100")
    return percent


def _moving_average(params: Params, granularity: str | None) -> MovingAverage | None:
    """``kind`` (one of movingavg's KINDS) and ``window`` (n; the span for ema), or None."""
    kinds = ", ".join(KINDS)
    kind = params.get("kind")
    if kind in (None, ""):
        if params.get("window") not in (None, ""):
            raise QueryError("kind", f"is required with window: one of {kinds}")
        return None
    if kind not in KINDS:
        raise QueryError("kind", f"{kind!r} is not one of {kinds}")
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
    if not 1 <= size <= MAX_WINDOW:
        raise QueryError("window", f"must be between 1 and {MAX_WINDOW}")
    return MovingAverage(kind, size)
