"""Client timestamps: parsing and sanity bounds.

Accepted forms: an ISO-8601 string (``Z`` or an offset; without one it is taken as UTC)
or a JSON number of Unix time: seconds, or milliseconds when its magnitude is at least
1e11 (1e11 seconds is the year 5138; 1e11 milliseconds is March 1973).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from events.envelope import format_timestamp
from events.limits import Limits

from .common import Problems

MILLISECONDS_THRESHOLD = 1e11
_EXPECTED = "must be an ISO-8601 timestamp (e.g. 2026-11-26T10:03:00.000Z) or Unix epoch number"


def parse_time(value: object, *, field: str, problems: Problems) -> datetime | None:
    """``value`` as a UTC datetime, or an error naming ``field`` and None."""
    try:
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip())
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / 1000 if abs(value) >= MILLISECONDS_THRESHOLD else value
            return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    problems.add(field, _EXPECTED)
    return None


def check_time(
    value: datetime, *, field: str, received_at: datetime, limits: Limits, problems: Problems
) -> bool:
    """True if ``value`` is within the sane window, else an error naming ``field``.

    The window: not before ``limits.min_timestamp``, not more than
    ``limits.max_future_skew_seconds`` after ``received_at``.
    """
    latest = received_at + timedelta(seconds=limits.max_future_skew_seconds)
    if value > latest:
        ahead = math.ceil((value - received_at).total_seconds())
        problems.add(
            field,
            f"{format_timestamp(value)} is {ahead} seconds in the future, beyond the limit"
            f" of {limits.max_future_skew_seconds} seconds",
        )
        return False
    if value < limits.min_timestamp:
        problems.add(
            field,
            f"{format_timestamp(value)} is before the earliest accepted timestamp"
            f" {format_timestamp(limits.min_timestamp)}",
        )
        return False
    return True
