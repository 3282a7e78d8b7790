"""The weighted moving average (WMA) with linear weights over the last n elements."""

from __future__ import annotations

from collections import deque

from movingavg.engines.errors import EmptyWindowError
from movingavg.engines.interface import MovingAverageInterface
from movingavg.engines.summation import to_units, units_ratio
from movingavg.engines.validation import Element, check_value, check_window_size
from movingavg.engines.window import WindowView

__all__ = ["WeightedMovingAverage"]


class WeightedMovingAverage(MovingAverageInterface):
    """Linearly weighted mean of the last ``n`` elements: the newest weighs m, the oldest 1.

    With m = min(count, n) elements ``x_1 … x_m`` (oldest first) the average is
    ``sum(i * x_i) / (m * (m + 1) / 2)``, correctly rounded.

    The numerator and the plain window sum are kept as exact integers (multiples of
    2**-1074) and updated in O(1): ``N += n*x - T`` and ``T += x - oldest`` once the window
    is full. Nothing is rounded until ``getMovingAverage``, so nothing drifts. Each call is
    O(1) in the worst case, not only amortised: a fixed number of operations on integers
    of at most about 2100 + 2 * log2(n) bits (about a microsecond).
    """

    __slots__ = ("_buf", "_mean", "_n", "_numerator", "_total")

    def __init__(self, n: int) -> None:
        self._n = check_window_size(n)
        self._buf: deque[Element] = deque(maxlen=self._n)
        self._numerator = 0  # sum(i * x_i), in units of 2**-1074
        self._total = 0  # sum(x_i), in units of 2**-1074
        self._mean: float | None = None  # cached average; None when stale

    @property
    def n(self) -> int:
        """The window size."""
        return self._n

    def addElement(self, value: Element) -> None:
        """Append ``value`` (evicting the oldest element once ``n`` are held); O(1)."""
        if type(value) is not float or value - value:
            value = check_value(value)
        units = to_units(float(value))
        buf = self._buf
        size = len(buf)
        if size == self._n:
            self._numerator += size * units - self._total
            self._total += units - to_units(float(buf[0]))
        else:
            self._numerator += (size + 1) * units
            self._total += units
        buf.append(value)
        self._mean = None

    def getMovingAverage(self) -> float:
        """Return the linearly weighted average of the window; O(1)."""
        mean = self._mean
        if mean is None:
            size = len(self._buf)
            if not size:
                raise EmptyWindowError()
            mean = self._mean = units_ratio(self._numerator, size * (size + 1) // 2)
        return mean

    def getElements(self) -> WindowView:
        """Return a live read-only view of the window, oldest first."""
        return WindowView(self)

    def _window(self) -> tuple[deque[Element], int]:
        return self._buf, 0

    def __repr__(self) -> str:
        return f"WeightedMovingAverage({self._n})"
