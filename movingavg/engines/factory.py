"""Engines by kind name, for callers that pick the average at run time (API, admin)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from movingavg.engines.cumulative import CumulativeMovingAverage
from movingavg.engines.exponential import ExponentialMovingAverage
from movingavg.engines.interface import MovingAverageInterface
from movingavg.engines.simple import SimpleMovingAverage
from movingavg.engines.weighted import WeightedMovingAverage

__all__ = ["ENGINES", "KINDS", "create_moving_average"]

ENGINES: Mapping[str, type[MovingAverageInterface]] = MappingProxyType(
    {
        "sma": SimpleMovingAverage,
        "wma": WeightedMovingAverage,
        "cma": CumulativeMovingAverage,
        "ema": ExponentialMovingAverage,
    }
)
"""Engine class by kind name."""

KINDS: tuple[str, ...] = tuple(ENGINES)
"""The kind names: ``("sma", "wma", "cma", "ema")``."""


def create_moving_average(
    kind: str, n: int | None = None, *, alpha: float | None = None
) -> MovingAverageInterface:
    """Return a new engine of ``kind``.

    - ``"sma"``, ``"wma"``: ``n`` (the window size) is required; ``alpha`` is not allowed.
    - ``"cma"``: takes neither.
    - ``"ema"``: exactly one of ``n`` (the span, ``alpha = 2 / (n + 1)``) or ``alpha``.

    Raises ValueError for an unknown kind and TypeError for a missing or extra parameter;
    the engines validate the values themselves.
    """
    if not isinstance(kind, str):
        raise TypeError(f"kind must be a str, not {type(kind).__name__}")
    if kind not in ENGINES:
        raise ValueError(f"unknown kind {kind!r}: expected one of {', '.join(KINDS)}")
    if kind == "ema":
        return ExponentialMovingAverage(n, alpha=alpha)
    if alpha is not None:
        raise TypeError(f"alpha applies to kind 'ema' only, not {kind!r}")
    if kind == "cma":
        if n is not None:
            raise TypeError("kind 'cma' takes no window size n")
        return CumulativeMovingAverage()
    if n is None:
        raise TypeError(f"kind {kind!r} needs a window size n")
    return ENGINES[kind](n)  # type: ignore[call-arg]
