"""Numbers and bucket times as people read them on the admin pages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation


def format_number(value: object) -> str:
    """``value`` with thousands separators: whole numbers without decimals, others with
    at most two decimals (four significant digits below 1); ``""`` for no value."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not number.is_finite():
        return str(value)
    if number == number.to_integral_value():
        return f"{int(number):,}"
    if abs(number) >= 1:
        return f"{number:,.2f}".rstrip("0").rstrip(".")
    return f"{float(number):.4g}"


def bucket_label(start: str) -> str:
    """A bucket's ISO start (in the query's time zone, as the API gives it) as local
    wall-clock time: ``2026-09-29`` at midnight, ``2026-09-29 14:00`` otherwise."""
    moment = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M")
