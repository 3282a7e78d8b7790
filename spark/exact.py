"""Exact arithmetic for numeric properties, shared by the rollups and the raw-event scan.

Pure Python (no Spark, no Django), so both paths compute every statistic with the
same code and give the identical number.

A numeric property is the decimal its JSON text spells: an integer of any size, or
a float's shortest ``repr`` (``0.1`` is exactly ``0.1``, ``1e308`` is ``10**308``).
Sums, minima and maxima of such decimals are exact: addition runs in a context whose
precision and exponent range are the largest ``decimal`` supports, so nothing is
rounded, nothing overflows and nothing is dropped. They are stored as their decimal
text (``str(Decimal)``), which reads back to the same value.

Only what leaves the API is rounded, the same way on both paths (``json_number``,
``mean``).
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Iterable
from decimal import Decimal

EXACT = decimal.Context(
    prec=decimal.MAX_PREC,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero],
)
# Averages are quotients, rarely finite decimals: 28 significant digits, then a float.
QUOTIENT = decimal.Context(prec=28, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
# Python refuses to print integers longer than this (sys.int_info.default_max_str_digits).
MAX_INT_DIGITS = 4300


def number_text(value: int | float) -> str | None:
    """The exact text of a JSON number (``str`` of an int, ``repr`` of a finite float);
    None for a boolean, a non-finite float or anything that is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    return str(value)


def parse(text: str) -> Decimal:
    """The decimal of a stored or envelope number text (exact)."""
    return EXACT.create_decimal(text)


def total(values: Iterable[Decimal]) -> Decimal:
    """The exact sum of ``values`` (``0`` when there are none)."""
    result = Decimal(0)
    for value in values:
        result = EXACT.add(result, value)
    return result


def smallest(values: Iterable[Decimal]) -> Decimal | None:
    """The least of ``values`` by numeric value, or None when there are none."""
    return min(values, default=None)


def largest(values: Iterable[Decimal]) -> Decimal | None:
    """The greatest of ``values`` by numeric value, or None when there are none."""
    return max(values, default=None)


def stats(texts: Iterable[str | None]) -> tuple[str, str, str] | None:
    """(sum, min, max) as decimal text of the non-null ``texts``; None when all are null."""
    values = [parse(text) for text in texts if text is not None]
    if not values:
        return None
    return str(total(values)), str(smallest(values)), str(largest(values))


def combine(
    sums: Iterable[str | None], mins: Iterable[str | None], maxes: Iterable[str | None]
) -> tuple[str | None, str | None, str | None]:
    """Partial (sum, min, max) texts combined exactly; a null input is no contribution."""
    sum_values = [parse(t) for t in sums if t is not None]
    min_values = [parse(t) for t in mins if t is not None]
    max_values = [parse(t) for t in maxes if t is not None]
    return (
        str(total(sum_values)) if sum_values else None,
        str(smallest(min_values)) if min_values else None,
        str(largest(max_values)) if max_values else None,
    )


def difference(minuend: str | None, subtrahend: str | None) -> str | None:
    """``minuend - subtrahend`` of two decimal texts, exactly; a null is zero, and
    two nulls are null (no statistic)."""
    if minuend is None and subtrahend is None:
        return None
    left = parse(minuend) if minuend is not None else Decimal(0)
    right = parse(subtrahend) if subtrahend is not None else Decimal(0)
    return str(EXACT.subtract(left, right))


def json_number(value: Decimal | int | None) -> int | float | str | None:
    """What the API answers for an exact value: a whole number as a JSON integer (exact,
    up to 4,300 digits), any other as the nearest double. A non-whole value beyond the
    double range is rounded to a whole number; beyond 4,300 digits, the decimal text."""
    if not isinstance(value, Decimal):
        return value
    if value == value.to_integral_value():
        return int(value) if value.adjusted() < MAX_INT_DIGITS else str(value)
    as_float = float(value)
    if math.isfinite(as_float):
        return as_float
    whole = value.to_integral_value(context=EXACT)
    return int(whole) if whole.adjusted() < MAX_INT_DIGITS else str(whole)


def mean(sum_: Decimal, count: int) -> float | int | str | None:
    """``sum_ / count`` as the API answers an average: a double (28 significant digits
    rounded once more to the nearest double); beyond the double range, as json_number."""
    if not count:
        return None
    quotient = QUOTIENT.divide(sum_, Decimal(count))
    as_float = float(quotient)
    return as_float if math.isfinite(as_float) else json_number(quotient)
