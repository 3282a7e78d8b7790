"""Raw-event answers: filters, group_by and the analyses rollups cannot answer,
computed over the raw events of a bounded scan (``reads.scan``).

An event is seen as Keen sees it: its properties (nested ones by dotted path),
plus ``distinct_id``, ``category``, ``keen.timestamp``, ``keen.id`` and
``keen.created_at``. Pure functions, but ``answer_from_raw_events``, which reads
through ``Reads``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, SupportsInt, cast

from django.conf import settings

from spark import exact

from .errors import QueryError
from .queries import Query, local_groups, parse_order_by
from .reads import Reads
from .series import series_of
from .timeframes import floor, iso

MISSING = object()


def event_view(row: dict) -> dict[str, Any]:
    """The properties a query can name, for one stored raw-event row."""
    view = json.loads(row["properties"] or "{}")
    view["distinct_id"] = row["distinct_id"]
    view["category"] = row["category"]
    view["keen"] = {
        "timestamp": iso(row["event_time"]),
        "id": row["event_id"],
        "created_at": iso(row["received_at"]) if row["received_at"] else None,
    }
    return view


def lookup(event: dict, path: str) -> Any:
    """The value at dotted ``path`` (``user.id``), or MISSING.

    A key holding a dot is a dotted path like nesting: ``user.id`` finds
    ``{"user": {"id": 1}}`` and ``{"user.id": 1}`` alike, as the rollups
    (``events.envelope.numeric_leaves``) see it. Ingestion refuses an event that has
    both; in stored events that have both, the nested one wins.
    """
    return _resolve(event, path.split("."))


def _resolve(node: Any, parts: list[str]) -> Any:
    if not parts:
        return node
    if not isinstance(node, dict):
        return MISSING
    for split in range(1, len(parts) + 1):
        key = ".".join(parts[:split])
        if key in node:
            found = _resolve(node[key], parts[split:])
            if found is not MISSING:
                return found
    return MISSING


def _comparable(a: Any, b: Any) -> bool:
    numbers = (int, float, Decimal)
    both_numbers = all(isinstance(x, numbers) and not isinstance(x, bool) for x in (a, b))
    return both_numbers or (isinstance(a, str) and isinstance(b, str))


def same(a: Any, b: Any) -> bool:
    """Type-strict equality, as Keen's filters compare: a boolean equals only a
    boolean (``true`` is not ``1``), a number only a number (``1`` is ``1.0``), a
    string only a string, null only null; lists and objects item by item."""
    numbers = (int, float, Decimal)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, numbers) or isinstance(b, numbers):
        return isinstance(a, numbers) and isinstance(b, numbers) and a == b
    if isinstance(a, list) or isinstance(b, list):
        return (
            isinstance(a, list)
            and isinstance(b, list)
            and len(a) == len(b)
            and all(same(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, dict) or isinstance(b, dict):
        return (
            isinstance(a, dict)
            and isinstance(b, dict)
            and a.keys() == b.keys()
            and all(same(a[k], b[k]) for k in a)
        )
    return type(a) is type(b) and a == b


_COMPARISONS = {
    "lt": lambda value, target: value < target,
    "lte": lambda value, target: value <= target,
    "gt": lambda value, target: value > target,
    "gte": lambda value, target: value >= target,
}


def matches(event: dict, filters: list[dict]) -> bool:
    """True when ``event`` passes every filter (Keen's operators, type-strict: see
    ``same``; ``exists`` takes a boolean)."""
    for item in filters:
        value = lookup(event, item["property_name"])
        operator, target = item["operator"], item.get("property_value")
        if operator == "exists":
            if (value is not MISSING and value is not None) != bool(target):
                return False
            continue
        if value is MISSING:
            return False
        if operator == "eq":
            ok = same(value, target)
        elif operator == "ne":
            ok = not same(value, target)
        elif operator == "in":
            assert isinstance(target, list)  # parse_filters: "in" takes a list
            ok = any(same(value, candidate) for candidate in target)
        elif operator in ("contains", "not_contains"):
            found = isinstance(value, str) and isinstance(target, str) and target in value
            found = found or (isinstance(value, list) and any(same(v, target) for v in value))
            ok = found if operator == "contains" else not found
        else:
            if not _comparable(value, target):
                return False
            ok = _COMPARISONS[operator](value, target)
        if not ok:
            return False
    return True


def _numbers(values: Iterable[Any]) -> list[Decimal]:
    """The exact decimals of the JSON numbers among ``values`` (booleans are not
    numbers), as the rollups read them (``spark.exact``)."""
    found = []
    for value in values:
        text = exact.number_text(value)
        if text is not None:
            found.append(exact.parse(text))
    return found


def plain_number(value: Decimal | int | None) -> int | float | str | None:
    """A JSON-friendly number: a whole decimal as int, any other as float
    (``spark.exact.json_number``, the rollup path's too)."""
    return exact.json_number(value)


def percentile_of(numbers: list[Decimal], percent: float) -> int | float | str | None:
    """Linear interpolation between closest ranks (numpy's default), exact in decimal."""
    if not numbers:
        return None
    ordered = sorted(numbers)
    position = Decimal(str(percent)) / 100 * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    fraction = position - low
    step = exact.EXACT.multiply(exact.EXACT.subtract(ordered[high], ordered[low]), fraction)
    return plain_number(exact.EXACT.add(ordered[low], step))


def _distinct(analysis: str, values: list[Any]) -> dict[str, Any]:
    """The distinct ``values`` by their JSON; QueryError beyond ``QUERY_MAX_UNIQUE_IDS``,
    the bound the rollup path (``store.bucket_users``) holds too."""
    limit = settings.QUERY_MAX_UNIQUE_IDS
    unique: dict[str, Any] = {}
    for value in values:
        unique[json.dumps(value, sort_keys=True)] = value
        if len(unique) > limit:
            raise QueryError(
                "timeframe",
                f"{analysis} over this timeframe finds more than {limit} distinct values "
                "(QUERY_MAX_UNIQUE_IDS); narrow the timeframe or add an interval",
            )
    return unique


def analyse(
    analysis: str, events: list[dict], target: str | None, percentile: float | None
) -> object:
    """One analysis over already filtered events."""
    if analysis == "count":
        return len(events)
    assert target is not None  # parse_query: every analysis but count needs a target
    values = [lookup(e, target) for e in events]
    present = [v for v in values if v is not MISSING and v is not None]
    if analysis in ("count_unique", "select_unique"):
        unique = _distinct(analysis, present)
        if analysis == "count_unique":
            return len(unique)
        return [unique[k] for k in sorted(unique)]
    numbers = _numbers(present)
    if analysis == "sum":
        return plain_number(exact.total(numbers))
    if not numbers:
        return None
    if analysis == "minimum":
        return plain_number(exact.smallest(numbers))
    if analysis == "maximum":
        return plain_number(exact.largest(numbers))
    if analysis == "average":
        return exact.mean(exact.total(numbers), len(numbers))
    if analysis == "median":
        return percentile_of(numbers, 50)
    assert percentile is not None  # parse_query: the percentile analysis needs one
    return percentile_of(numbers, percentile)


def grouped(
    analysis: str,
    events: list[dict],
    *,
    target: str | None,
    percentile: float | None,
    group_by: list[str],
) -> list[dict]:
    """Keen's group_by result: one ``{<group props>: value, ..., "result": value}`` per group."""
    groups: dict[str, tuple[dict, list[dict]]] = {}
    for event in events:
        key = {name: _group_value(lookup(event, name)) for name in group_by}
        groups.setdefault(json.dumps(key, sort_keys=True, default=str), (key, []))[1].append(event)
    return [
        {**key, "result": analyse(analysis, members, target, percentile)}
        for _, (key, members) in sorted(groups.items())
    ]


def _group_value(value: Any) -> Any:
    return None if value is MISSING else value


def order_and_limit(rows: list[dict], order_by: object, limit: object) -> list[dict]:
    """Keen's ``order_by`` (as ``queries.parse_order_by`` takes it) and ``limit`` on
    group_by rows; QueryError for a limit without order_by."""
    specs = parse_order_by(order_by)
    for spec in reversed(specs):
        name = spec["property_name"]
        descending = spec["direction"] == "DESC"
        rows = sorted(rows, key=lambda r: _sort_key(r.get(name)), reverse=descending)
    if limit not in (None, ""):
        try:
            # int() raises TypeError for a value it takes no number from; caught below.
            count = int(cast(SupportsInt, limit))
        except (TypeError, ValueError):
            raise QueryError("limit", "must be a whole number") from None
        if count < 1:
            raise QueryError("limit", "must be at least 1")
        if not specs:
            raise QueryError("limit", "needs order_by")
        rows = rows[:count]
    return rows


def _sort_key(value: Any) -> tuple:
    if value is None:
        return (0, 0, "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, value, "")
    return (2, 0, json.dumps(value, sort_keys=True, default=str))


def answer_from_raw_events(*, query: Query, reads: Reads) -> object:
    """Keen's ``result`` for ``query`` from a bounded scan of the raw events."""
    rows = reads.raw_events(name=query.event_collection, timeframe=query.timeframe)
    filters = list(query.filters)
    events = [view for view in map(event_view, rows) if matches(view, filters)]
    if query.granularity is None:
        return _result(query, events)
    by_bucket: dict[dt.datetime, list[dict]] = {}
    for event in events:
        moment = dt.datetime.fromisoformat(event["keen"]["timestamp"])
        by_bucket.setdefault(floor(moment, query.granularity, query.tz), []).append(event)
    values = [(a, b, _result(query, by_bucket.get(a, []))) for a, b in local_groups(query)]
    return series_of(query, values)


def _result(query: Query, members: list[dict]) -> object:
    """The analysis over one bucket's events: a value, or group_by rows."""
    if not query.group_by:
        return analyse(query.analysis, members, query.target_property, query.percentile)
    rows = grouped(
        query.analysis,
        members,
        target=query.target_property,
        percentile=query.percentile,
        group_by=list(query.group_by),
    )
    return order_and_limit(rows, query.order_by, query.limit)
