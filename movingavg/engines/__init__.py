"""The moving-average engines: one interface, four exact engines, and a batch helper.

    >>> from movingavg.engines import SimpleMovingAverage
    >>> sma = SimpleMovingAverage(3)
    >>> for x in (1, 2, 3, 4):
    ...     sma.addElement(x)
    >>> sma.getMovingAverage(), list(sma.getElements())
    (3.0, [2, 3, 4])

Engines, all implementing ``MovingAverageInterface`` (``create_moving_average(kind, n,
alpha=...)`` builds one by kind name):

- ``"sma"``: ``SimpleMovingAverage(n)``, the mean of the last n elements;
- ``"wma"``: ``WeightedMovingAverage(n)``, weights 1 … m over the last m <= n elements,
  newest heaviest;
- ``"cma"``: ``CumulativeMovingAverage()``, the mean of every element so far;
- ``"ema"``: ``ExponentialMovingAverage(span)`` or ``ExponentialMovingAverage(alpha=a)``,
  ``alpha = 2 / (span + 1)``.

Contract:

- ``addElement`` is O(1) whatever n is, in every engine. ``getMovingAverage`` is O(1)
  for the WMA and EMA, and *amortised* O(1) for the SMA and CMA: they defer the
  bookkeeping to the read, so one read after k additions costs O(k) (at most O(n) for
  the SMA), paid for by those additions.
- Exact: SMA and CMA return ``math.fsum(window) / len(window)`` bit for bit (the correctly
  rounded sum over the count; so three 0.1s average to 0.10000000000000002, as in numpy);
  WMA returns the correctly rounded weighted mean. Their sums are kept exact (float
  expansions or integers) and rounded only when read: millions of updates mixing huge
  and tiny floats cannot drift. The EMA recursion rounds each step, but its errors decay.
- Elements: ``int``, ``float`` and ``fractions.Fraction`` (and subclasses), averaged as
  ``float(x)`` and stored as given. Anything else raises TypeError, including **bool**
  (True is a flag, not a measurement: pass ``int(flag)``) and **decimal.Decimal** (as
  ``float + Decimal`` does; convert with ``float(d)``, or ``Fraction(d)`` to keep it
  exact). NaN, ±inf and ints or Fractions beyond the float range raise ValueError. A
  rejected value leaves the engine unchanged.
- ``getMovingAverage()`` before the first element raises ``EmptyWindowError``, a
  ValueError subclass.
- Window sizes (n, span) are positive ints: ValueError if ≤ 0, TypeError if not an int
  (bool included).
- EMA warm-up: the first element seeds the average (no bias correction), as
  ``pandas.Series.ewm(alpha=alpha, adjust=False).mean()``.
- ``getElements()`` is a live read-only view of the window, oldest first (EMA: the last
  ``span`` elements; CMA: all of them).
- Thread safety: none. An engine is plain mutable state, and even ``getMovingAverage``
  updates it; guard an instance shared between threads with a ``threading.Lock``.
  Separate instances are independent.

``moving_average_series(values, kind, n, alpha=...)`` returns the average after every
element at once, the same numbers as feeding them one by one; SMA and CMA are vectorised.

A leaf package: it imports the standard library (numpy on first batch use) and nothing
else, Django least of all; ``movingavg`` re-exports these names, and its Django app (models,
admin pages, charts) sits on top.
"""

from __future__ import annotations

from movingavg.engines.batch import moving_average_series
from movingavg.engines.cumulative import CumulativeMovingAverage
from movingavg.engines.errors import EmptyWindowError
from movingavg.engines.exponential import ExponentialMovingAverage
from movingavg.engines.factory import ENGINES, KINDS, create_moving_average
from movingavg.engines.interface import MovingAverageInterface
from movingavg.engines.simple import SimpleMovingAverage
from movingavg.engines.weighted import WeightedMovingAverage
from movingavg.engines.window import WindowView

__all__ = [
    "ENGINES",
    "KINDS",
    "CumulativeMovingAverage",
    "EmptyWindowError",
    "ExponentialMovingAverage",
    "MovingAverageInterface",
    "SimpleMovingAverage",
    "WeightedMovingAverage",
    "WindowView",
    "create_moving_average",
    "moving_average_series",
]
