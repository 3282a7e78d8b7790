"""The simple moving average (SMA): the arithmetic mean of the last n elements."""

from __future__ import annotations

from movingavg.engines.exact_mean import ExactMeanEngine
from movingavg.engines.validation import check_window_size

__all__ = ["SimpleMovingAverage"]


class SimpleMovingAverage(ExactMeanEngine):
    """The mean of the last ``n`` elements (boxcar), backed by ``collections.deque``.

    ``getMovingAverage()`` equals ``math.fsum(w) / len(w)`` for ``w = getElements()``,
    exactly, after any number of updates; before ``n`` elements it averages those there
    are. Whatever ``n`` is, ``addElement`` is O(1) and ``getMovingAverage`` amortised O(1):
    one read after k additions costs O(min(k, n)) (O(n) once after a full recomputation).
    ``n`` must be a positive int: ValueError if ≤ 0, TypeError if not an int.
    """

    __slots__ = ()

    def __init__(self, n: int) -> None:
        super().__init__(check_window_size(n))

    @property
    def n(self) -> int:
        """The window size."""
        return self._n  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"SimpleMovingAverage({self._n})"
