"""The vectorised exact rolling sums behind the batch helper."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from movingavg.engines.rolling import MAX_LEVELS, rolling_fsums


def reference(values: np.ndarray, n: int | None) -> np.ndarray:
    items = values.tolist()
    return np.array(
        [
            math.fsum(items[max(0, i - n + 1) : i + 1] if n else items[: i + 1])
            for i in range(len(items))
        ]
    )


def check(values: np.ndarray, n: int | None) -> None:
    sums = rolling_fsums(values, n)
    if sums is not None:
        np.testing.assert_array_equal(sums, reference(values, n))


wide = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e250, max_value=1e250)


@settings(max_examples=300, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(1, 60), elements=wide),
    st.one_of(st.none(), st.integers(1, 70)),
)
def test_equals_fsum_of_each_window(values: np.ndarray, n: int | None) -> None:
    check(values, n)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(-60, 60),
    st.lists(st.integers(-(2**53), 2**53), min_size=1, max_size=80),
    st.lists(st.integers(-80, 0), min_size=1, max_size=80),
    st.integers(1, 20),
)
def test_equals_fsum_on_a_few_binades(
    scale: int, mantissas: list[int], shifts: list[int], n: int
) -> None:
    # values 2**(scale + shift) * mantissa: a span that needs 2 to 4 levels, with ties
    size = min(len(mantissas), len(shifts))
    values = np.ldexp(np.array(mantissas[:size], dtype=float), scale + np.array(shifts[:size]))
    check(values, n)


@pytest.mark.parametrize("n", [1, 2, 10, 999, None])
def test_typical_data(n: int | None) -> None:
    rng = np.random.default_rng(42)
    for values in (
        rng.normal(0.0, 1.0, 3_000),
        rng.exponential(1.0, 3_000),
        rng.integers(-1_000, 1_000, 3_000).astype(float),
        np.round(rng.uniform(0, 1_000, 3_000), 2),
        np.tile([1.0, -1.0], 1_500) + rng.normal(0.0, 1e-12, 3_000),
    ):
        sums = rolling_fsums(values, n)
        assert sums is not None
        np.testing.assert_array_equal(sums, reference(values, n))


def test_ties_broken_by_lower_levels() -> None:
    # 2**53 + 1 + 2**-60: exactly halfway plus a little, spread over three levels
    values = np.array([2.0**53, 1.0, 2.0**-60, -(2.0**-60), 2.0**-61, 3.0, 2.0**53] * 50)
    for n in (2, 3, 4, 7, None):
        check(values, n)


def test_zeros_and_negative_zeros() -> None:
    values = np.array([0.0, -0.0, 0.0])
    np.testing.assert_array_equal(rolling_fsums(values, 2), [0.0, 0.0, 0.0])
    empty = rolling_fsums(np.array([]), 3)
    assert empty is not None
    assert empty.size == 0


def test_subnormals_are_exact() -> None:
    values = np.array([5e-324, 1e-310, -3e-320, 2.5e-308, 5e-324] * 20)
    check(values, 3)
    check(values, None)


def test_declines_what_it_cannot_do_exactly() -> None:
    assert rolling_fsums(np.array([1e308, -1e308, 1.0]), 2) is None  # near the float maximum
    spread = np.array([10.0 ** (40 * (i % 8) - 160) for i in range(64)])
    assert rolling_fsums(spread, 3) is None  # more than MAX_LEVELS levels
    assert MAX_LEVELS >= 3
