"""Property-based tests: engines against math.fsum and exact arithmetic, under random use."""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from movingavg import (
    CumulativeMovingAverage,
    ExponentialMovingAverage,
    SimpleMovingAverage,
    WeightedMovingAverage,
)
from movingavg.engines.validation import Element

# below 1e300 so that math.fsum of a window (the reference) cannot overflow
elements = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300),
    st.integers(-(10**30), 10**30),
    st.fractions(max_denominator=10**6).filter(lambda value: abs(value) < 10**30),
)
# each step adds an element, then maybe reads the average
steps = st.lists(st.tuples(elements, st.booleans()), min_size=1, max_size=300)
Operations = list[tuple[Element, bool]]


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 120), steps)
def test_sma_is_always_fsum_of_its_window(n: int, operations: Operations) -> None:
    sma = SimpleMovingAverage(n)
    added: list[Element] = []
    for value, read in operations:
        sma.addElement(value)
        added.append(value)
        if read:
            window = added[-n:]
            assert list(sma.getElements()) == window
            assert sma.getMovingAverage() == math.fsum(window) / len(window)
    window = added[-n:]
    assert sma.getMovingAverage() == math.fsum(window) / len(window)


@settings(max_examples=200, deadline=None)
@given(steps)
def test_cma_is_always_fsum_of_everything(operations: Operations) -> None:
    cma = CumulativeMovingAverage()
    added: list[Element] = []
    for value, read in operations:
        cma.addElement(value)
        added.append(value)
        if read:
            assert cma.getMovingAverage() == math.fsum(added) / len(added)
    assert list(cma.getElements()) == added


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 30), steps)
def test_wma_is_always_the_correctly_rounded_weighted_mean(n: int, operations: Operations) -> None:
    wma = WeightedMovingAverage(n)
    added: list[float] = []
    for value, read in operations:
        wma.addElement(value)
        added.append(float(value))
        if read:
            window = added[-n:]
            m = len(window)
            exact = sum(Fraction(x) * weight for weight, x in enumerate(window, 1))
            assert wma.getMovingAverage() == float(exact / (m * (m + 1) // 2))


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=1e-3, max_value=1.0),
    st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=200),
)
def test_ema_stays_between_the_extremes_and_tracks_exact_arithmetic(
    alpha: float, values: list[float]
) -> None:
    ema = ExponentialMovingAverage(alpha=alpha)
    exact = Fraction(values[0])
    for index, value in enumerate(values):
        ema.addElement(value)
        if index:
            exact += Fraction(ema.alpha) * (Fraction(value) - exact)
        average = ema.getMovingAverage()
        low, high = min(values[: index + 1]), max(values[: index + 1])
        slack = 4 * math.ulp(max(abs(low), abs(high)))
        assert low - slack <= average <= high + slack
        assert abs(average - float(exact)) <= 1e-12 * max(abs(low), abs(high), 1e-300)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 50), st.lists(elements, min_size=1, max_size=200))
def test_reading_late_equals_reading_every_time(n: int, values: list[Element]) -> None:
    eager, lazy = SimpleMovingAverage(n), SimpleMovingAverage(n)
    for value in values:
        eager.addElement(value)
        eager.getMovingAverage()
        lazy.addElement(value)
    assert lazy.getMovingAverage() == eager.getMovingAverage()
    assert list(lazy.getElements()) == list(eager.getElements())
