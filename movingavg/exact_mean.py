"""The engine shared by the simple (SMA) and cumulative (CMA) moving averages.

The mean of the window is kept exact, and the bookkeeping is deferred so that
``addElement`` stays close to a bare ``deque.append``:

- ``addElement`` validates the value and appends it to an unbounded deque. Once the deque
  holds ``2n + 64`` elements it is cut back to the last ``n`` (one C-level copy per ``n + 64``
  additions) and the running sum is marked stale.
- ``getMovingAverage`` brings the running sum (an ``ExactSum``) up to date with the
  elements added and evicted since the previous call: incrementally when they are few,
  by recomputing over the window when they are many (or the sum is stale). Either way
  the work is proportional to the additions since the previous call, so both methods
  are amortised O(1) whatever n is; a call with nothing new is O(1).

The result is ``math.fsum(window) / len(window)`` exactly: the sum is exact until that
one rounding, so it cannot drift. Memory: at most ``2n + 64`` elements.
"""

from __future__ import annotations

import sys
from collections import deque
from itertools import islice

from movingavg.errors import EmptyWindowError
from movingavg.interface import MovingAverageInterface
from movingavg.summation import ExactSum
from movingavg.validation import Element, check_value
from movingavg.window import WindowView

__all__ = ["ExactMeanEngine"]

_SLACK = 64  # extra room before the deque is cut back, so that small windows trim rarely


class ExactMeanEngine(MovingAverageInterface):
    """Exact mean of the last ``n`` elements, or of all of them when ``n`` is None."""

    __slots__ = ("_buf", "_cap", "_mean", "_n", "_stale", "_sum", "_synced")

    def __init__(self, n: int | None) -> None:
        self._n = n
        self._buf: deque[Element] = deque()
        self._cap = sys.maxsize if n is None else 2 * n + _SLACK
        self._sum = ExactSum()
        self._synced = 0  # len(_buf) when _sum was last brought up to date
        self._stale = False  # the deque was cut back since: _sum must be recomputed
        self._mean: float | None = None  # the average at the last update; None if empty

    def addElement(self, value: Element) -> None:
        """Append ``value``; amortised O(1)."""
        if type(value) is not float or value - value:  # not a finite float: the slow path
            value = check_value(value)
        buf = self._buf
        buf.append(value)
        if len(buf) > self._cap:
            self._buf = deque(islice(buf, len(buf) - self._n, None))  # type: ignore[operator]
            self._stale = True

    def getMovingAverage(self) -> float:
        """Return ``math.fsum(window) / len(window)``; amortised O(1)."""
        if self._stale or len(self._buf) != self._synced:
            self._sync()
        mean = self._mean
        if mean is None:
            raise EmptyWindowError(
                "the moving average of an empty window is undefined: add an element first"
            )
        return mean

    def getElements(self) -> WindowView:
        """Return a live read-only view of the window, oldest first."""
        return WindowView(self)

    def _window(self) -> tuple[deque[Element], int]:
        buf, n = self._buf, self._n
        return buf, (len(buf) - n if n is not None and len(buf) > n else 0)

    def _sync(self) -> None:
        """Bring ``_sum`` and ``_mean`` up to date with the deque; cut it back to the window."""
        buf, n = self._buf, self._n
        size = len(buf)
        evicted = size - n if n is not None and size > n else 0
        added = size - self._synced
        if self._stale or (n is not None and 2 * (added + evicted) >= n):
            if evicted:
                self._buf = buf = deque(islice(buf, evicted, None))
            self._sum.reset(buf)
        else:
            removed = [buf.popleft() for _ in range(evicted)]
            self._sum.update(islice(reversed(buf), added), removed)
        self._synced = len(buf)
        self._stale = False
        self._mean = self._sum.mean(len(buf)) if buf else None
