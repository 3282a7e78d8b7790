"""Keen-style timeframes and intervals, resolved to UTC instants (pure Python).

Relative timeframes (Keen's rules): ``this_N_<unit>s`` runs from the start of the
unit N-1 units ago until now (the current unit included); ``previous_N_<unit>s``
is the N complete units before the current one. Units: minutes, hours, days,
weeks, months, years. Weeks start on ``WEEK_START`` (Monday, ISO's week, unless set
to Sunday, as Keen's were), for relative timeframes and ``weekly`` intervals alike,
so that ``previous_4_weeks`` tiles into four weekly buckets. ``today`` is ``this_1_days``,
``yesterday`` ``previous_1_days``, ``this_<unit>`` ``this_1_<unit>s`` and
``previous_<unit>`` ``previous_1_<unit>s``. An absolute timeframe is
``{"start": ISO-8601, "end": ISO-8601}``, both with a UTC offset.

Units of a day or longer follow the query's time zone (a named zone such as
``US/Pacific``, or an offset in seconds); minutes and hours are absolute. Every
instant returned is in UTC.

Every instant of a timeframe, relative or absolute, must lie from ``EARLIEST``
(0002-01-01T00:00:00Z) to ``LATEST`` (9999-01-01T00:00:00Z): a year of margin on each
side of Python's calendar, so bucketing and time-zone shifts never leave it. Outside
that range the timeframe is refused with a QueryError naming the field.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from events.json_parsing import decode_json
from spark.schema import Granularity

from .errors import QueryError

UNITS = ("minutes", "hours", "days", "weeks", "months", "years")
MINUTE = "minute"  # answered from the raw events: no rollups are stored by the minute
WEEK = "week"  # answered from days (hours in a time zone); no rollups are stored by week
YEAR = "year"  # answered from months (hours in a time zone)
INTERVALS: dict[str, str] = {
    "minutely": MINUTE,
    "hourly": Granularity.HOUR,
    "daily": Granularity.DAY,
    "weekly": WEEK,
    "monthly": Granularity.MONTH,
    "yearly": YEAR,
}
REGROUPED_INTERVALS = (WEEK, YEAR)
WEEK_STARTS = {"monday": 0, "sunday": 6}
MAX_BUCKETS = 2500
EARLIEST = dt.datetime(2, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
_RANGE = "from 0002-01-01T00:00:00Z to 9999-01-01T00:00:00Z"
_RELATIVE = re.compile(r"^(this|previous)_(\d{1,6})_(minutes|hours|days|weeks|months|years)$")
_SHORT = {
    "today": "this_1_days",
    "yesterday": "previous_1_days",
    **{f"this_{u[:-1]}": f"this_1_{u}" for u in UNITS},
    **{f"previous_{u[:-1]}": f"previous_1_{u}" for u in UNITS},
}


@dataclass(frozen=True)
class Timeframe:
    """``[start, end)`` in UTC; ``open_end`` when the end is "now" (a ``this_`` timeframe)."""

    start: dt.datetime
    end: dt.datetime
    open_end: bool = False


def floor(value: dt.datetime, unit: str, tz: dt.tzinfo = dt.UTC) -> dt.datetime:
    """The start (in UTC) of the ``unit`` (a UNITS name or a granularity) holding
    ``value``, with days and longer units taken in ``tz``."""
    unit = unit if unit.endswith("s") else f"{unit}s"
    if unit in ("minutes", "hours") or tz is dt.UTC:
        return _floor_local(value.astimezone(dt.UTC), unit)
    local = _floor_local(value.astimezone(tz), unit)
    return local.replace(tzinfo=None).replace(tzinfo=tz).astimezone(dt.UTC)


def _floor_local(value: dt.datetime, unit: str) -> dt.datetime:
    value = value.replace(microsecond=0)
    if unit == "minutes":
        return value.replace(second=0)
    if unit == "hours":
        return value.replace(minute=0, second=0)
    day = value.replace(hour=0, minute=0, second=0)
    if unit == "days":
        return day
    if unit == "weeks":
        return day - dt.timedelta(days=(day.weekday() - _first_weekday()) % 7)
    if unit == "months":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _first_weekday() -> int:
    """The weekday weeks start on (``WEEK_START``: Monday, 0, unless set to Sunday)."""
    from django.conf import settings

    return WEEK_STARTS[settings.WEEK_START]


def shift(value: dt.datetime, unit: str, count: int, tz: dt.tzinfo = dt.UTC) -> dt.datetime:
    """``value`` moved by ``count`` units: minutes and hours as elapsed time, longer
    units on ``tz``'s calendar and clock (a day across a DST change is 23 or 25 hours)."""
    unit = unit if unit.endswith("s") else f"{unit}s"
    if unit in ("minutes", "hours"):
        return value + dt.timedelta(seconds={"minutes": 60, "hours": 3600}[unit] * count)
    local = value.astimezone(tz).replace(tzinfo=None)
    if unit in ("months", "years"):
        months = local.year * 12 + local.month - 1 + count * (12 if unit == "years" else 1)
        local = local.replace(year=months // 12, month=months % 12 + 1)
    else:
        local = local + dt.timedelta(days=count * (7 if unit == "weeks" else 1))
    return local.replace(tzinfo=tz).astimezone(dt.UTC)


def iso(value: dt.datetime, tz: dt.tzinfo = dt.UTC) -> str:
    """ISO-8601 with milliseconds in ``tz`` (``Z`` for UTC); a naive value is taken as UTC
    (what Cassandra returns)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(tz).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _instant(value: object, field: str) -> dt.datetime:
    if not isinstance(value, str):
        raise QueryError(field, "must be an ISO-8601 string")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(field, f"{value[:100]!r} is not an ISO-8601 time") from None
    if parsed.tzinfo is None:
        raise QueryError(field, "needs a UTC offset, such as Z or +00:00")
    utc: dt.datetime | None
    try:
        utc = parsed.astimezone(dt.UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise QueryError(field, f"{value!r} is outside the supported range {_RANGE}")
    return utc


def resolve_timeframe(value: object, *, now: dt.datetime, tz: dt.tzinfo = dt.UTC) -> Timeframe:
    """The UTC range ``value`` names (a relative string, or a start/end object, or its
    JSON); relative days and longer units follow ``tz``."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = decode_json(value)
        except ValueError:
            raise QueryError("timeframe", "is not valid JSON") from None
    if isinstance(value, dict):
        start = _instant(value.get("start"), "timeframe.start")
        end = _instant(value.get("end"), "timeframe.end")
        if start >= end:
            raise QueryError("timeframe", "start must be before end")
        return Timeframe(start, end)
    if not isinstance(value, str) or not value:
        raise QueryError("timeframe", "is required: a relative timeframe or {start, end}")
    match = _RELATIVE.match(_SHORT.get(value, value))
    if not match:
        raise QueryError(
            "timeframe",
            f"{value!r} is not a timeframe; use this_N_<units> or previous_N_<units> "
            f"with units {', '.join(UNITS)}, or {{start, end}}",
        )
    kind, count, unit = match.group(1), int(match.group(2)), match.group(3)
    if count < 1:
        raise QueryError("timeframe", "N must be at least 1")
    now = now.astimezone(dt.UTC)
    current = floor(now, unit, tz)
    first: dt.datetime | None
    try:
        first = shift(current, unit, -(count - 1) if kind == "this" else -count, tz)
    except (OverflowError, ValueError):  # before year 1 (or past 9999 in a far zone)
        first = None
    if first is None or first < EARLIEST:
        raise QueryError("timeframe", f"{value!r} reaches outside the supported range {_RANGE}")
    if kind == "this":
        return Timeframe(first, now, open_end=True)
    return Timeframe(first, current)


def parse_timezone(value: object) -> dt.tzinfo:
    """Keen's ``timezone``: a named zone (``US/Pacific``) or an offset in seconds; UTC if absent."""
    if value in (None, "", "UTC", "Etc/UTC", "GMT", 0, "0"):
        return dt.UTC
    if isinstance(value, bool):
        raise QueryError("timezone", "must be a zone name or an offset in seconds")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise QueryError("timezone", "an offset must be a whole number of seconds")
    if isinstance(value, int | float) or (isinstance(value, str) and re.fullmatch(r"-?\d+", value)):
        seconds = int(value)
        if abs(seconds) >= 86400:
            raise QueryError("timezone", "an offset must be less than a day, in seconds")
        return dt.timezone(dt.timedelta(seconds=seconds))
    if not isinstance(value, str):
        raise QueryError("timezone", "must be a zone name or an offset in seconds")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder ("America")
        raise QueryError("timezone", f"{value[:100]!r} is not a known time zone") from None


def granularity_of(interval: object) -> str | None:
    """An interval (``minutely`` .. ``yearly``) -> its bucket unit; None for no interval."""
    if interval in (None, ""):
        return None
    if not isinstance(interval, str) or interval not in INTERVALS:
        raise QueryError(
            "interval", f"{interval!r:.100} is not supported; use one of {', '.join(INTERVALS)}"
        )
    return INTERVALS[interval]


def buckets(timeframe: Timeframe, granularity: str, tz: dt.tzinfo = dt.UTC) -> list[dt.datetime]:
    """The bucket starts (UTC) covering ``timeframe``, which must start on a bucket
    boundary in ``tz`` and end on one (or be open-ended); at most MAX_BUCKETS."""
    if floor(timeframe.start, granularity, tz) != timeframe.start:
        raise QueryError("timeframe", f"must start on a whole {granularity} for this query")
    if not timeframe.open_end and floor(timeframe.end, granularity, tz) != timeframe.end:
        raise QueryError("timeframe", f"must end on a whole {granularity} for this query")
    starts = []
    current = timeframe.start
    while current < timeframe.end:
        starts.append(current)
        if len(starts) > MAX_BUCKETS:
            raise QueryError(
                "interval", f"gives more than {MAX_BUCKETS} buckets; narrow the timeframe"
            )
        current = shift(current, granularity, 1, tz)
    return starts


def coarsest_granularity(timeframe: Timeframe) -> str:
    """The coarsest UTC rollup granularity whose buckets tile ``timeframe`` exactly."""
    for granularity in (Granularity.MONTH, Granularity.DAY, Granularity.HOUR):
        start_ok = floor(timeframe.start, granularity) == timeframe.start
        end_ok = timeframe.open_end or floor(timeframe.end, granularity) == timeframe.end
        if start_ok and end_ok:
            return granularity
    raise QueryError(
        "timeframe", "must start and end on whole hours (ad-hoc ranges are not supported yet)"
    )
