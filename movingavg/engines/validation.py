"""Validation of elements and parameters, shared by every engine and the batch helper.

Accepted elements are ``int``, ``float`` and ``fractions.Fraction`` (and their subclasses),
with these rules:

- ``bool`` is rejected with TypeError: ``True`` is a flag, not a measurement. Pass
  ``int(flag)`` to average flags on purpose.
- ``decimal.Decimal`` is rejected with TypeError, as Python's own ``float + Decimal`` is.
  Converting silently would round; convert explicitly with ``float(d)`` (nearest float) or
  ``Fraction(d)`` (exact).
- Any other type (str, None, complex, numpy scalars other than ``numpy.float64``) raises
  TypeError.
- NaN and ±inf raise ValueError, and so does an int or Fraction too large for a float.
- Float subclasses (``numpy.float64``) are stored as plain floats and int subclasses
  (IntEnum members) as plain ints; ints and Fractions are otherwise kept as given, so
  ``getElements()`` returns them unchanged.

Every engine sums an element as ``float(element)``, its nearest float; from there on the
arithmetic is exact (see ``movingavg.engines.summation``).
"""

from __future__ import annotations

import math
import operator
from decimal import Decimal
from fractions import Fraction
from numbers import Real
from typing import SupportsIndex, cast

__all__ = ["Element", "check_alpha", "check_value", "check_window_size"]

Element = int | float | Fraction
"""The element types the engines accept."""


def check_value(value: object) -> Element:
    """Return ``value`` as stored by the engines, or raise TypeError/ValueError.

    The engines inline the fast path (a finite ``float``) and call this for anything else.
    """
    if isinstance(value, float):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"elements must be finite, got {number!r}")
        return number
    if isinstance(value, bool):
        raise TypeError("bool is not accepted as an element: pass int(flag) to average flags")
    if isinstance(value, int | Fraction):
        stored: Element = int(value) if isinstance(value, int) else value
        try:
            float(stored)
        except OverflowError:
            raise ValueError(f"element {value!r} is too large for a float") from None
        return stored
    hint = ""
    if isinstance(value, Real | Decimal):
        hint = " (convert it explicitly, e.g. float(x) or Fraction(x))"
    raise TypeError(f"elements must be int, float or Fraction, not {type(value).__name__}{hint}")


def check_window_size(n: object, name: str = "n") -> int:
    """Return ``n`` as an int; TypeError if it is not an integer, ValueError if it is ≤ 0.

    Integers are ints and objects with ``__index__`` (``numpy.int64``); bool is rejected.
    """
    if isinstance(n, bool):
        raise TypeError(f"{name} must be a positive int, not bool")
    try:
        # operator.index does the check: it raises TypeError for anything without __index__
        size = operator.index(cast(SupportsIndex, n))
    except TypeError:
        raise TypeError(f"{name} must be a positive int, not {type(n).__name__}") from None
    if size <= 0:
        raise ValueError(f"{name} must be a positive int, got {size}")
    return size


def check_alpha(alpha: object) -> float:
    """Return the EMA smoothing factor as a float if it is a real number in (0, 1]."""
    if isinstance(alpha, bool) or not isinstance(alpha, int | float | Fraction):
        raise TypeError(f"alpha must be a real number in (0, 1], not {type(alpha).__name__}")
    value = float(alpha)
    if not 0.0 < value <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    return value
