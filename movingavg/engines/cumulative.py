"""The cumulative moving average (CMA): the mean of every element added so far."""

from __future__ import annotations

from movingavg.engines.exact_mean import ExactMeanEngine

__all__ = ["CumulativeMovingAverage"]


class CumulativeMovingAverage(ExactMeanEngine):
    """The mean of all elements added so far, exact (``math.fsum(all) / count``).

    Its window is the whole history: ``getElements()`` returns every element, so memory
    grows with the count. ``addElement`` is O(1); ``getMovingAverage`` is amortised O(1)
    (a read after k additions folds those k into the exact sum, O(k)).
    """

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(None)

    def __repr__(self) -> str:
        return "CumulativeMovingAverage()"
