"""Ad-hoc queries: filters, group_by and the analyses rollups cannot answer, computed
over the raw events with a bounded scan.

An event is seen as Keen sees it: its properties (nested ones by dotted path),
plus ``distinct_id``, ``category``, ``keen.timestamp``, ``keen.id`` and
``keen.created_at``. Pure functions here; ``scan`` does the reading.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.conf import settings

from analytics_site.json_parsing import decode_json
from spark import exact

from . import selectors
from .timeframes import QueryError, Timeframe, floor, iso, shift

OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "exists", "in", "contains", "not_contains")
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


def _comparable(a: Any, b: Any) -> bool:
    numbers = (int, float, Decimal)
    return (isinstance(a, numbers) and not isinstance(a, bool) and isinstance(b, numbers)
            and not isinstance(b, bool)) or (isinstance(a, str) and isinstance(b, str))  # fmt: skip


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
        return (isinstance(a, list) and isinstance(b, list) and len(a) == len(b)
                and all(same(x, y) for x, y in zip(a, b, strict=True)))  # fmt: skip
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
                and all(same(a[k], b[k]) for k in a))  # fmt: skip
    return type(a) is type(b) and a == b


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
            ok = any(same(value, candidate) for candidate in target)
        elif operator in ("contains", "not_contains"):
            found = isinstance(value, str) and isinstance(target, str) and target in value
            found = found or (isinstance(value, list) and any(same(v, target) for v in value))
            ok = found if operator == "contains" else not found
        else:
            if not _comparable(value, target):
                return False
            ok = {"lt": value < target, "lte": value <= target,
                  "gt": value > target, "gte": value >= target}[operator]  # fmt: skip
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
    the bound the rollup path (``selectors.bucket_users``) holds too."""
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


def analyse(analysis: str, events: list[dict], target: str | None, percentile: float | None):
    """One analysis over already filtered events."""
    if analysis == "count":
        return len(events)
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
    """Keen's ``order_by`` (a property name or ``{property_name, direction}``, or a list)
    and ``limit`` on group_by rows."""
    if isinstance(order_by, str) and order_by.strip()[:1] in "[{":
        try:
            order_by = decode_json(order_by)
        except ValueError:
            raise QueryError("order_by", "is not valid JSON") from None
    specs = order_by if isinstance(order_by, list) else [order_by] if order_by else []
    for spec in reversed(specs):
        if isinstance(spec, str):
            spec = {"property_name": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("property_name"), str):
            raise QueryError("order_by", "needs property_name (and direction ASC or DESC)")
        direction = str(spec.get("direction", "ASC")).upper()
        if direction not in ("ASC", "DESC"):
            raise QueryError("order_by", "direction must be ASC or DESC")
        name = spec["property_name"]
        rows = sorted(rows, key=lambda r: _sort_key(r.get(name)), reverse=direction == "DESC")
    if limit not in (None, ""):
        try:
            count = int(limit)
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


def scan(*, project_id: str, name: str, timeframe: Timeframe) -> Iterator[dict]:
    """The raw events of ``name`` in ``timeframe``, one day partition at a time.

    Raises QueryError (the caller answers 400) beyond AD_HOC_MAX_DAYS day partitions or
    AD_HOC_MAX_EVENTS events: the caller must narrow the timeframe.
    """
    days = []
    day = floor(timeframe.start, "day")
    while day < timeframe.end:
        days.append(day)
        day = shift(day, "day", 1)
    if len(days) > settings.AD_HOC_MAX_DAYS:
        raise QueryError(
            "timeframe",
            f"this query reads raw events and spans {len(days)} days, beyond the limit of "
            f"{settings.AD_HOC_MAX_DAYS}; narrow the timeframe",
        )
    seen = 0
    for day in days:
        rows = selectors.raw_event_rows(
            project_id=project_id, name=name, day=day.date(),
            start=timeframe.start, end=timeframe.end,
        )  # fmt: skip
        for row in rows:
            seen += 1
            if seen > settings.AD_HOC_MAX_EVENTS:
                raise QueryError(
                    "timeframe",
                    f"this query reads more than {settings.AD_HOC_MAX_EVENTS} raw events; "
                    "narrow the timeframe",
                )
            yield row
