"""Engine factories shared by the movingavg tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from movingavg import (
    CumulativeMovingAverage,
    ExponentialMovingAverage,
    MovingAverageInterface,
    SimpleMovingAverage,
    WeightedMovingAverage,
)

Factory = Callable[[], MovingAverageInterface]

# (factory, how many elements getElements() retains; None: all of them)
ENGINES: dict[str, tuple[Factory, int | None]] = {
    "sma": (lambda: SimpleMovingAverage(3), 3),
    "sma-large": (lambda: SimpleMovingAverage(100), 100),  # the incremental path (n > 64)
    "wma": (lambda: WeightedMovingAverage(3), 3),
    "cma": (CumulativeMovingAverage, None),
    "ema-span": (lambda: ExponentialMovingAverage(3), 3),
    "ema-alpha": (lambda: ExponentialMovingAverage(alpha=0.5), 3),
}


@pytest.fixture(params=sorted(ENGINES))
def engine_spec(request: pytest.FixtureRequest) -> tuple[Factory, int | None]:
    """Each engine's factory and retention, one test run per engine."""
    return ENGINES[request.param]


@pytest.fixture
def engine(engine_spec: tuple[Factory, int | None]) -> MovingAverageInterface:
    """A fresh engine of each kind."""
    return engine_spec[0]()
