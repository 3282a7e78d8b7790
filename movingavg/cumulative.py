"""The cumulative moving average (CMA): the mean of every element added so far."""

from __future__ import annotations

from movingavg.exact_mean import ExactMeanEngine

__all__ = ["CumulativeMovingAverage"]


class CumulativeMovingAverage(ExactMeanEngine):
    """The mean of all elements added so far, exact (``math.fsum(all) / count``).

    Its window is the whole history: ``getElements()`` returns every element, so memory
    grows with the count; time stays amortised O(1) per call.
    """

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(None)

    def __repr__(self) -> str:
        return "CumulativeMovingAverage()"
