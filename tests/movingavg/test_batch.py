"""The batch helper: the same numbers as feeding the engines one by one."""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from movingavg import create_moving_average, moving_average_series

Spec = tuple[str, int | None, float | None]  # kind, n, alpha

KINDS: list[Spec] = [
    ("sma", 1, None),
    ("sma", 4, None),
    ("sma", 100, None),
    ("wma", 5, None),
    ("cma", None, None),
    ("ema", 4, None),
    ("ema", None, 0.3),
]


def one_by_one(
    values: Iterable[float], kind: str, n: int | None, alpha: float | None
) -> np.ndarray:
    engine = create_moving_average(kind, n, alpha=alpha)
    out = []
    for value in values:
        engine.addElement(value)
        out.append(engine.getMovingAverage())
    return np.array(out, dtype=float)


elements = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e200, max_value=1e200)


@settings(max_examples=150, deadline=None)
@given(st.lists(elements, max_size=200), st.sampled_from(KINDS))
def test_batch_equals_feeding_one_by_one(values: list[float], spec: Spec) -> None:
    kind, n, alpha = spec
    expected = one_by_one(values, kind, n, alpha)
    np.testing.assert_array_equal(moving_average_series(values, kind, n, alpha=alpha), expected)
    np.testing.assert_array_equal(
        moving_average_series(np.array(values), kind, n, alpha=alpha), expected
    )


@pytest.mark.parametrize("spec", KINDS, ids=str)
def test_batch_on_a_long_realistic_series(spec: Spec) -> None:
    kind, n, alpha = spec
    values = np.random.default_rng(7).normal(100.0, 30.0, 20_000)
    result = moving_average_series(values, kind, n, alpha=alpha)
    assert result.dtype == np.float64
    assert result.shape == values.shape
    np.testing.assert_array_equal(result, one_by_one(values.tolist(), kind, n, alpha))


@pytest.mark.parametrize("n", [1, 10, 1_000])
def test_batch_sma_matches_pandas(n: int) -> None:
    values = np.random.default_rng(n).exponential(5.0, 50_000)
    result = moving_average_series(values, "sma", n)
    expected = pd.Series(values).rolling(n, min_periods=1).mean().to_numpy()
    np.testing.assert_allclose(result, expected, rtol=1e-11)
    window = values[-n:].tolist()
    assert result[-1] == math.fsum(window) / len(window)


def test_batch_falls_back_to_the_engine_when_needed() -> None:
    near_max = [1.6e308, -1.6e308, 1.0, 1.7e308, 1.5e308]  # beyond the vectorised range
    np.testing.assert_array_equal(
        moving_average_series(near_max, "sma", 2), one_by_one(near_max, "sma", 2, None)
    )
    spread = [10.0 ** (40 * (i % 8) - 160) * (-1) ** i for i in range(50)]  # too many levels
    np.testing.assert_array_equal(
        moving_average_series(spread, "cma"), one_by_one(spread, "cma", None, None)
    )


def test_batch_accepts_ints_fractions_and_numeric_arrays() -> None:
    assert moving_average_series([1, Fraction(1, 2), 3], "sma", 2).tolist() == [1.0, 0.75, 1.75]
    ints = np.arange(10, dtype=np.int64)
    np.testing.assert_array_equal(
        moving_average_series(ints, "sma", 3), one_by_one(ints.tolist(), "sma", 3, None)
    )
    np.testing.assert_array_equal(
        moving_average_series(ints.astype(np.float32), "cma"),
        one_by_one(ints.tolist(), "cma", None, None),
    )
    np.testing.assert_array_equal(
        moving_average_series(pd.Series([1.0, 2.0, 4.0]), "sma", 2), [1.0, 1.5, 3.0]
    )
    assert moving_average_series([], "sma", 3).shape == (0,)


@pytest.mark.parametrize(
    ("values", "error", "message"),
    [
        ([1.0, math.nan], ValueError, r"values\[1\]"),
        (np.array([1.0, 2.0, math.inf]), ValueError, r"values\[2\] is inf"),
        ([1.0, True], TypeError, r"values\[1\].*bool"),
        (["1.0"], TypeError, r"values\[0\]"),
        (np.array([True, False]), TypeError, "integer or float dtype"),
        (np.ones((2, 2)), ValueError, "one-dimensional"),
    ],
)
def test_batch_validates_like_add_element(
    values: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        moving_average_series(values, "sma", 2)


def test_batch_validates_parameters() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        moving_average_series([1.0], "median", 2)
    with pytest.raises(TypeError, match="needs a window size"):
        moving_average_series([1.0], "sma")
    with pytest.raises(ValueError, match="positive"):
        moving_average_series([1.0], "sma", 0)


def test_batch_does_not_modify_its_input() -> None:
    values = np.random.default_rng(1).normal(0.0, 1.0, 1_000)
    copy = values.copy()
    moving_average_series(values, "sma", 7)
    moving_average_series(values, "cma")
    np.testing.assert_array_equal(values, copy)
