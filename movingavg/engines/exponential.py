"""The exponential moving average (EMA).

Warm-up rule: the first element seeds the average (``ema = x_1``); each later element
moves it by ``ema += alpha * (x - ema)``. This is ``pandas.Series.ewm(alpha=alpha,
adjust=False).mean()``. Give either ``span`` (``alpha = 2 / (span + 1)``, the "N-period"
EMA) or ``alpha`` itself, in (0, 1]; with ``alpha == 1`` the average is the latest element.
"""

from __future__ import annotations

from collections import deque

from movingavg.engines.errors import EmptyWindowError
from movingavg.engines.interface import MovingAverageInterface
from movingavg.engines.validation import Element, check_alpha, check_value, check_window_size
from movingavg.engines.window import WindowView

__all__ = ["ExponentialMovingAverage"]


class ExponentialMovingAverage(MovingAverageInterface):
    """EMA with smoothing factor ``alpha``, given directly or as ``span``; O(1) per call.

    The average depends on the whole history; ``getElements()`` shows the last ``span``
    elements (for ``alpha`` alone, ``span = max(1, round(2 / alpha - 1))``, the span
    with that alpha).

    The recursion is in floating point: each step rounds, but the errors of earlier steps
    decay by ``1 - alpha`` per step, so the accumulated relative error stays below about
    ``2**-53 / alpha`` however many elements are added: it cannot drift.
    """

    __slots__ = ("_alpha", "_buf", "_ema", "_last_only", "_span")

    def __init__(self, span: int | None = None, *, alpha: float | None = None) -> None:
        if (span is None) == (alpha is None):
            raise TypeError("give exactly one of span or alpha")
        if span is not None:
            self._span = check_window_size(span, "span")
            self._alpha = 2.0 / (self._span + 1)
        else:
            self._alpha = check_alpha(alpha)
            self._span = max(1, round(2.0 / self._alpha - 1.0))
        self._last_only = self._alpha == 1.0
        self._buf: deque[Element] = deque(maxlen=self._span)
        self._ema: float | None = None

    @property
    def alpha(self) -> float:
        """The smoothing factor."""
        return self._alpha

    @property
    def span(self) -> int:
        """The span: ``2 / alpha - 1``, rounded; also how many elements are retained."""
        return self._span

    def addElement(self, value: Element) -> None:
        """Fold ``value`` into the average; O(1)."""
        if type(value) is not float or value - value:
            value = check_value(value)
        x = float(value)
        ema = self._ema
        if ema is None or self._last_only:
            ema = x
        else:
            delta = x - ema
            if delta - delta:  # inf: opposite huge values; the same step, computed halved
                ema = 2.0 * (0.5 * ema + self._alpha * (0.5 * x - 0.5 * ema))
            else:
                ema += self._alpha * delta
        self._ema = ema
        self._buf.append(value)

    def getMovingAverage(self) -> float:
        """Return the current EMA; O(1)."""
        ema = self._ema
        if ema is None:
            raise EmptyWindowError()
        return ema

    def getElements(self) -> WindowView:
        """Return a live read-only view of the last ``span`` elements, oldest first."""
        return WindowView(self)

    def _window(self) -> tuple[deque[Element], int]:
        return self._buf, 0

    def __repr__(self) -> str:
        return f"ExponentialMovingAverage(alpha={self._alpha!r})"
