"""Each engine against independent references: math.fsum, Fraction arithmetic, numpy, pandas."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from movingavg import (
    CumulativeMovingAverage,
    ExponentialMovingAverage,
    MovingAverageInterface,
    SimpleMovingAverage,
    WeightedMovingAverage,
)
from movingavg.engines.validation import Element


def series(seed: int, size: int) -> list[float]:
    """Floats of mixed signs and magnitudes (1e-12 to 1e12)."""
    rng = random.Random(seed)
    return [rng.choice((-1, 1)) * rng.random() * 10.0 ** rng.randint(-12, 12) for _ in range(size)]


def feed(engine: MovingAverageInterface, values: Iterable[Element]) -> list[float]:
    """The average after each value."""
    averages = []
    for value in values:
        engine.addElement(value)
        averages.append(engine.getMovingAverage())
    return averages


@pytest.mark.parametrize("n", [1, 2, 7, 64, 65, 300])
def test_sma_is_fsum_of_the_window_over_its_length(n: int) -> None:
    values = series(n, 2_000)
    averages = feed(SimpleMovingAverage(n), values)
    for i, average in enumerate(averages):
        window = values[max(0, i - n + 1) : i + 1]
        assert average == math.fsum(window) / len(window)


@pytest.mark.parametrize("n", [3, 100])
def test_sma_matches_pandas_rolling_mean(n: int) -> None:
    values = np.random.default_rng(n).normal(50.0, 20.0, 5_000)
    averages = np.array(feed(SimpleMovingAverage(n), values.tolist()))
    expected = pd.Series(values).rolling(n, min_periods=1).mean().to_numpy()
    np.testing.assert_allclose(averages, expected, rtol=1e-12)


@pytest.mark.parametrize("every", [1, 3, 50, 1_000])
def test_sma_with_reads_every_few_additions(every: int) -> None:
    # exercises the one-by-one, bulk, recompute and trimmed-deque paths of the engine
    values = series(every, 5_000)
    for n in (5, 100, 1_000):
        sma = SimpleMovingAverage(n)
        for i, value in enumerate(values):
            sma.addElement(value)
            if i % every == every - 1:
                window = values[max(0, i - n + 1) : i + 1]
                assert sma.getMovingAverage() == math.fsum(window) / len(window)
                assert list(sma.getElements()) == window


def test_sma_switching_between_rare_and_frequent_reads() -> None:
    # fsum passes leave the running sum behind; the next incremental read rebuilds it
    values = series(77, 6_000)
    sma = SimpleMovingAverage(200)
    index = 0
    for gap in [1, 1, 500, 1, 1, 150, 3, 1_000, 1, 7, 99, 100, 1, 450, 2, 1]:
        for value in values[index : index + gap]:
            sma.addElement(value)
        index += gap
        window = values[max(0, index - 200) : index]
        assert sma.getMovingAverage() == math.fsum(window) / len(window)
        assert list(sma.getElements()) == window


def test_sma_mixed_element_types_average_their_floats() -> None:
    values: list[Element] = [1, Fraction(1, 3), 2.5, 10**17 + 1, Fraction(-7, 2)]
    sma = SimpleMovingAverage(4)
    for value in values:
        sma.addElement(value)
    window = [float(value) for value in values[-4:]]
    assert sma.getMovingAverage() == math.fsum(window) / 4
    assert list(sma.getElements()) == values[-4:]


def test_sma_near_the_float_maximum() -> None:
    # fsum itself overflows here; the mean is still finite and correctly rounded
    sma = SimpleMovingAverage(3)
    for value in (1.7e308, 1.7e308, 1.6e308):
        sma.addElement(value)
    expected = (3 * Fraction(1.7e308) - Fraction(1.7e308) + Fraction(1.6e308)) / 3
    assert sma.getMovingAverage() == float(expected)
    sma.addElement(-1.7e308)
    assert sma.getMovingAverage() == float(
        (Fraction(1.7e308) + Fraction(1.6e308) - Fraction(1.7e308)) / 3
    )
    sma.addElement(1.0)
    sma.addElement(2.0)
    assert sma.getMovingAverage() == math.fsum([-1.7e308, 1.0, 2.0]) / 3


def test_cma_is_fsum_of_everything_over_the_count() -> None:
    values = series(11, 3_000)
    averages = feed(CumulativeMovingAverage(), values)
    for i in (0, 1, 10, 999, 2_999):
        assert averages[i] == math.fsum(values[: i + 1]) / (i + 1)
    expected = pd.Series(values).expanding().mean().to_numpy()
    assert np.isclose(averages[-1], expected[-1], rtol=1e-6)


def test_cma_with_rare_reads() -> None:
    values = series(12, 10_000)
    cma = CumulativeMovingAverage()
    for i, value in enumerate(values):
        cma.addElement(value)
        if i % 997 == 0:
            assert cma.getMovingAverage() == math.fsum(values[: i + 1]) / (i + 1)
    assert cma.getMovingAverage() == math.fsum(values) / len(values)
    assert len(cma.getElements()) == len(values)


def wma_reference(window: list[float]) -> float:
    """Correctly rounded linearly weighted mean, in exact rational arithmetic."""
    m = len(window)
    numerator = sum(Fraction(value) * weight for weight, value in enumerate(window, start=1))
    return float(numerator / (m * (m + 1) // 2))


@pytest.mark.parametrize("n", [1, 2, 5, 40])
def test_wma_is_the_correctly_rounded_weighted_mean(n: int) -> None:
    values = series(100 + n, 600)
    averages = feed(WeightedMovingAverage(n), values)
    for i, average in enumerate(averages):
        assert average == wma_reference(values[max(0, i - n + 1) : i + 1])


def test_wma_matches_numpy_convolution() -> None:
    n = 10
    values = np.random.default_rng(3).normal(10.0, 3.0, 2_000)
    averages = np.array(feed(WeightedMovingAverage(n), values.tolist()))
    weights = np.arange(1, n + 1, dtype=float)
    expected = np.convolve(values, weights[::-1], mode="valid") / weights.sum()
    np.testing.assert_allclose(averages[n - 1 :], expected, rtol=1e-12)


def test_wma_first_windows_use_the_elements_there_are() -> None:
    wma = WeightedMovingAverage(4)
    wma.addElement(1.0)
    wma.addElement(4.0)  # (1*1 + 2*4) / 3
    assert wma.getMovingAverage() == 3.0


def ema_reference(values: list[float], alpha: float) -> list[float]:
    """The same recursion in exact rational arithmetic (the first value seeds it)."""
    exact = Fraction(alpha)
    ema = Fraction(values[0])
    out = [float(ema)]
    for value in values[1:]:
        ema += exact * (Fraction(value) - ema)
        out.append(float(ema))
    return out


@pytest.mark.parametrize(("span", "alpha"), [(1, None), (9, None), (None, 0.3), (None, 1e-6)])
def test_ema_matches_pandas_ewm_without_adjustment(span: int | None, alpha: float | None) -> None:
    values = np.random.default_rng(5).normal(100.0, 15.0, 3_000)
    engine = ExponentialMovingAverage(span, alpha=alpha)
    averages = np.array(feed(engine, values.tolist()))
    ewm = pd.Series(values).ewm(span=span, alpha=alpha, adjust=False).mean().to_numpy()
    np.testing.assert_allclose(averages, ewm, rtol=1e-12)
    exact = ema_reference(values[:150].tolist(), engine.alpha)  # denominators grow fast
    np.testing.assert_allclose(averages[:150], exact, rtol=1e-13)


def test_ema_warm_up_and_span() -> None:
    ema = ExponentialMovingAverage(3)  # alpha = 2 / (3 + 1)
    assert ema.alpha == 0.5
    ema.addElement(10.0)
    assert ema.getMovingAverage() == 10.0  # the first value seeds the average
    ema.addElement(20.0)
    assert ema.getMovingAverage() == 15.0
    ema.addElement(15.0)
    assert ema.getMovingAverage() == 15.0


def test_ema_with_alpha_one_is_the_latest_value() -> None:
    ema = ExponentialMovingAverage(alpha=1)
    for value in (1e16, 1.0, -3.5):
        ema.addElement(value)
        assert ema.getMovingAverage() == value


def test_ema_survives_opposite_huge_values() -> None:
    ema = ExponentialMovingAverage(alpha=0.5)
    ema.addElement(1.6e308)
    ema.addElement(-1.6e308)
    assert ema.getMovingAverage() == 0.0
    ema.addElement(1.6e308)
    assert ema.getMovingAverage() == 0.8e308


def test_ema_retains_the_last_span_elements() -> None:
    ema = ExponentialMovingAverage(alpha=0.1)  # span 2 / 0.1 - 1 = 19
    assert ema.span == 19
    for value in range(30):
        ema.addElement(value)
    assert list(ema.getElements()) == list(range(11, 30))
