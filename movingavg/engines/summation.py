"""Exact sums of floats: the arithmetic behind the SMA, CMA and WMA engines.

A running sum kept in floating point drifts: every update rounds, and after huge and tiny
values cancel, the rounding errors can be all that is left. These helpers never round
until a result is asked for.

``ExactSum`` holds a sum as a *non-overlapping expansion*: a few floats, largest first,
whose exact (unrounded) total is the sum; the first is the correctly rounded sum. Updates
run through ``math.fsum`` (Shewchuk's algorithm, in C). The expansion's length is bounded
by a constant (at most ~40 for binary64; 1 to 3 for real data), so an update of k values
costs O(k). When a partial sum leaves the float range, the sum is kept as an exact
integer count of 2**-1074 (the smallest subnormal, of which every finite float is a
whole multiple) until it fits again.

``to_units`` and ``units_ratio`` expose that integer representation; the weighted engine
uses it directly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from movingavg.engines.validation import Element

__all__ = ["UNIT_EXPONENT", "ExactSum", "expansion", "to_units", "units_ratio"]

UNIT_EXPONENT = -1074
"""Every finite float is an integer multiple of 2**UNIT_EXPONENT."""

_UNIT_SHIFT = -UNIT_EXPONENT
_SCALE = 1 << _UNIT_SHIFT


def to_units(value: float) -> int:
    """Return the finite float ``value`` as an exact integer multiple of 2**-1074."""
    numerator, denominator = value.as_integer_ratio()  # denominator == 2**j, j <= 1074
    return numerator << (_UNIT_SHIFT + 1 - denominator.bit_length())


def units_ratio(units: int, divisor: int) -> float:
    """Return ``units * 2**-1074 / divisor`` correctly rounded (divisor > 0).

    Raises OverflowError if the result is outside the float range.
    """
    return units / (divisor << _UNIT_SHIFT)


def expansion(parts: list[Element]) -> list[float]:
    """Return the expansion of the exact sum of ``float(p) for p in parts``, largest first.

    Each term is the correctly rounded remainder of the sum so far, so ``terms[0]`` equals
    ``math.fsum(parts)``; ``[]`` means the sum is zero. ``parts`` is consumed (extended).
    Raises OverflowError when an intermediate sum leaves the float range.
    """
    fsum = math.fsum
    terms: list[float] = []
    while term := fsum(parts):
        terms.append(term)
        parts.append(-term)
    return terms


class ExactSum:
    """The exact sum of a changing collection of elements (each counted as ``float(x)``).

    Held as an expansion (see ``expansion``) whose first term is the correctly rounded sum,
    so ``rounded`` and ``mean`` are O(1). ``update`` folds k elements in or out through
    ``math.fsum`` in O(k). Outside the float range the sum is kept as an integer count of
    2**-1074 instead. Not thread-safe.
    """

    __slots__ = ("_terms", "_units")

    def __init__(self, values: Iterable[Element] = ()) -> None:
        self._terms: list[float] = []
        self._units: int | None = None  # set (and _terms empty) outside the float range
        self.reset(values)

    def reset(self, values: Iterable[Element]) -> None:
        """Make the sum that of ``values``. O(len(values))."""
        self._terms, self._units = [], None
        self._absorb(list(values))

    def update(self, added: Iterable[Element] = (), removed: Iterable[Element] = ()) -> None:
        """Add the elements of ``added`` and subtract those of ``removed``. O(k) for k of them."""
        if self._units is None:
            parts: list[Element] = [*self._terms, *added]
            parts.extend([-value for value in removed])
            self._absorb(parts)
        else:
            units = self._units + sum(to_units(float(value)) for value in added)
            units -= sum(to_units(float(value)) for value in removed)
            self._set_units(units)

    def rounded(self) -> float:
        """The sum, correctly rounded: ``math.fsum`` of the elements. O(1).

        Raises OverflowError if it is outside the float range.
        """
        if self._units is not None:
            return units_ratio(self._units, 1)  # raises OverflowError
        return self._terms[0] if self._terms else 0.0

    def mean(self, count: int) -> float:
        """``rounded() / count`` (``count`` > 0), as ``math.fsum(x) / len(x)``. O(1).

        Outside the float range, where ``rounded()`` cannot exist, the exact quotient is
        rounded instead.
        """
        if self._units is not None:
            return units_ratio(self._units, count)
        return (self._terms[0] if self._terms else 0.0) / count

    def _absorb(self, parts: list[Element]) -> None:
        size = len(parts)
        try:
            self._terms = expansion(parts)
        except OverflowError:
            self._set_units(sum(to_units(float(value)) for value in parts[:size]))

    def _set_units(self, units: int) -> None:
        terms: list[float] = []
        rest = units
        try:
            while rest:
                term = units_ratio(rest, 1)  # correctly rounded; OverflowError if too large
                terms.append(term)
                rest -= to_units(term)
        except OverflowError:
            self._terms, self._units = [], units
        else:
            self._terms, self._units = terms, None
