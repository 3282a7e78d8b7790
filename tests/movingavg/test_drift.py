"""No drift: millions of updates mixing huge and tiny floats stay exact."""

from __future__ import annotations

import math
import random
from collections import deque
from fractions import Fraction

import pytest

from movingavg import CumulativeMovingAverage, SimpleMovingAverage, WeightedMovingAverage


def mixed(seed: int, count: int, n: int) -> list[float]:
    """Floats of both signs in stretches of 1e300-, 1e15-, 1-, 1e-15- and 1e-300-sized values.

    Each stretch is n to 3n long, with a sprinkling of smaller sizes, so windows alternate
    between holding huge values and holding none: a plain running sum is then left with
    rounding noise of order 1e284 where the true window sum is around 1.
    """
    rng = random.Random(seed)
    scales = (1e300, 1e15, 1.0, 1e-15, 1e-300)
    values: list[float] = []
    while len(values) < count:
        scale = rng.choice(scales)
        smaller = [size for size in scales if size <= scale]
        for _ in range(rng.randint(n, 3 * n)):
            size = rng.choice(smaller) if rng.random() < 0.05 else scale
            values.append(rng.choice((-1.0, 1.0)) * rng.random() * size)
    return values[:count]


def naive_error(values: list[float], n: int) -> float:
    """Largest relative error of a plain float running sum over the same windows."""
    window: deque[float] = deque(maxlen=n)
    running, worst = 0.0, 0.0
    for index, value in enumerate(values):
        if len(window) == n:
            running -= window[0]
        window.append(value)
        running += value
        if index % 1_000 == 999:
            exact = math.fsum(window)
            worst = max(worst, abs(running - exact) / abs(exact))
    return worst


@pytest.mark.parametrize(("n", "count"), [(50, 2_000_000), (1_000, 2_000_000)])
def test_sma_does_not_drift_over_millions_of_updates(n: int, count: int) -> None:
    values = mixed(n, count, n)
    sma = SimpleMovingAverage(n)
    add = sma.addElement
    for start in range(0, count, 1_000):
        for value in values[start : start + 1_000]:
            add(value)
        window = values[max(0, start + 1_000 - n) : start + 1_000]
        expected = math.fsum(window) / len(window)
        average = sma.getMovingAverage()
        assert abs(average - expected) <= 1e-9 * abs(expected)  # the bound...
        assert average == expected  # ...and in fact exact
    assert naive_error(values[:200_000], n) > 1e-9  # the data do defeat a plain running sum


def test_sma_read_after_every_update_does_not_drift() -> None:
    n = 100
    values = mixed(7, 200_000, n)
    sma = SimpleMovingAverage(n)
    for index, value in enumerate(values):
        sma.addElement(value)
        average = sma.getMovingAverage()
        if index % 1_000 == 999:
            window = values[index - n + 1 : index + 1]
            assert average == math.fsum(window) / n


def test_cma_does_not_drift() -> None:
    values = mixed(3, 1_000_000, 1_000)
    cma = CumulativeMovingAverage()
    for start in range(0, len(values), 100_000):
        for value in values[start : start + 100_000]:
            cma.addElement(value)
        seen = values[: start + 100_000]
        assert cma.getMovingAverage() == math.fsum(seen) / len(seen)


def test_wma_does_not_drift() -> None:
    n = 20
    values = mixed(5, 100_000, n)
    wma = WeightedMovingAverage(n)
    for index, value in enumerate(values):
        wma.addElement(value)
        if index % 10_000 == 9_999:
            window = values[index - n + 1 : index + 1]
            exact = sum(Fraction(x) * weight for weight, x in enumerate(window, 1))
            assert wma.getMovingAverage() == float(exact / (n * (n + 1) // 2))
