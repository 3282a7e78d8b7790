"""The engine shared by the simple (SMA) and cumulative (CMA) moving averages.

The mean of the window is kept exact, and the bookkeeping is deferred so that
``addElement`` costs little more than a bare ``deque.append``:

- ``addElement`` validates the value and appends it to a deque that holds up to
  ``2n + 64`` elements (unbounded for the CMA); older ones fall off.
- ``getMovingAverage`` cuts the deque back to the window and brings the mean up to date:
  with one ``math.fsum`` over the window when it is small (n <= 64) or when at least
  n / 2 elements are new (or some fell off the deque unseen, which takes n + 64
  additions); otherwise by folding the changes into a running exact sum (an
  ``ExactSum``), rebuilt first if a ``math.fsum`` pass left it behind. The work is
  proportional to the additions since the previous call (or bounded by 64), plus one
  O(n) rebuild after each ``math.fsum`` pass, which itself needs n / 2 additions first.
  So ``addElement`` is O(1) (a deque append) and ``getMovingAverage`` amortised O(1)
  whatever n is: a single read can cost O(n); a read with nothing new is O(1).

The result is ``math.fsum(window) / len(window)`` exactly: the sum is exact until that
one rounding, so it cannot drift. Memory: at most ``2n + 64`` elements.
"""

from __future__ import annotations

import math
from collections import deque
from itertools import islice

from movingavg.engines.errors import EmptyWindowError
from movingavg.engines.interface import MovingAverageInterface
from movingavg.engines.summation import ExactSum
from movingavg.engines.validation import Element, check_value
from movingavg.engines.window import WindowView

__all__ = ["ExactMeanEngine"]

_SLACK = 64  # extra room in the deque, so that small windows are recomputed rarely
_POP_LIMIT = 4  # evict up to this many elements one by one, more by copying the window
_SMALL_WINDOW = 64  # up to this size, math.fsum over the window beats any bookkeeping


class ExactMeanEngine(MovingAverageInterface):
    """Exact mean of the last ``n`` elements, or of all of them when ``n`` is None."""

    __slots__ = ("_buf", "_mean", "_n", "_stale", "_sum", "_synced")

    def __init__(self, n: int | None) -> None:
        self._n = n
        self._buf: deque[Element] = deque() if n is None else deque(maxlen=2 * n + _SLACK)
        self._sum = ExactSum()
        self._synced = 0  # len(_buf) when _sum was last brought up to date (<= n)
        self._mean: float | None = None  # the average then; None if empty
        self._stale = False  # _sum is behind: the mean was last computed with math.fsum

    def addElement(self, value: Element) -> None:
        """Append ``value``; O(1)."""
        if type(value) is not float or value - value:  # not a finite float: the slow path
            value = check_value(value)
        self._buf.append(value)

    def getMovingAverage(self) -> float:
        """Return ``math.fsum(window) / len(window)``; amortised O(1) (one call: up to O(n))."""
        if len(self._buf) != self._synced:
            self._sync()
        mean = self._mean
        if mean is None:
            raise EmptyWindowError()
        return mean

    def getElements(self) -> WindowView:
        """Return a live read-only view of the window, oldest first."""
        return WindowView(self)

    def _window(self) -> tuple[deque[Element], int]:
        buf, n = self._buf, self._n
        return buf, (len(buf) - n if n is not None and len(buf) > n else 0)

    def _sync(self) -> None:
        """Bring ``_mean`` up to date with the deque, and cut the deque back to the window."""
        buf, n = self._buf, self._n
        size = len(buf)
        added = size - self._synced
        evicted = size - n if n is not None and size > n else 0
        if n is not None and (n <= _SMALL_WINDOW or size == buf.maxlen or 2 * added >= n):
            # small window, many changes, or some fell off the deque unseen: math.fsum over
            # the window; the running sum catches up when next needed
            buf = self._evict(evicted)
            try:
                self._mean = math.fsum(buf) / len(buf)
            except OverflowError:  # an intermediate sum overflowed: ExactSum copes
                self._sum.reset(buf)
                self._mean = self._sum.mean(len(buf))
            self._stale = True
        elif size:
            total = self._sum
            if self._stale:
                buf = self._evict(evicted)
                total.reset(buf)
                self._stale = False
            else:
                removed = [buf.popleft() for _ in range(evicted)]
                new = (buf[-1],) if added == 1 else islice(reversed(buf), added)
                total.update(new, removed)
            self._mean = total.mean(len(buf))
        self._synced = len(buf)

    def _evict(self, count: int) -> deque[Element]:
        """Drop the ``count`` oldest elements; return the deque."""
        buf = self._buf
        if count > _POP_LIMIT:
            self._buf = buf = deque(islice(buf, count, None), maxlen=buf.maxlen)
        else:
            for _ in range(count):
                buf.popleft()
        return buf
