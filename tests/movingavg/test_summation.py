"""Exact summation helpers: ExactSum, expansion, to_units."""

from __future__ import annotations

import itertools
import math
import random
import sys
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from movingavg.engines.summation import ExactSum, expansion, to_units, units_ratio

finite = st.floats(allow_nan=False, allow_infinity=False)
moderate = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)


@given(finite)
def test_to_units_is_exact(value: float) -> None:
    assert Fraction(to_units(value), 2**1074) == Fraction(value)


def test_units_ratio_rounds_correctly() -> None:
    assert units_ratio(to_units(1.0), 3) == 1 / 3
    assert units_ratio(to_units(sys.float_info.max) * 2, 2) == sys.float_info.max
    with pytest.raises(OverflowError):
        units_ratio(to_units(sys.float_info.max) * 2, 1)


@given(st.lists(moderate, max_size=30))
def test_expansion_is_exact_and_leads_with_fsum(values: list[float]) -> None:
    terms = expansion(list(values))
    assert sum(map(Fraction, terms)) == sum(map(Fraction, values))
    assert (terms[0] if terms else 0.0) == math.fsum(values)
    assert all(abs(a) > abs(b) for a, b in itertools.pairwise(terms))


@given(st.lists(st.tuples(st.booleans(), finite), max_size=60))
def test_exact_sum_tracks_adds_and_removes_exactly(operations: list[tuple[bool, float]]) -> None:
    total, exact = ExactSum(), Fraction(0)
    for add, value in operations:
        if add:
            total.update([value])
            exact += Fraction(value)
        else:
            total.update(removed=[value])
            exact -= Fraction(value)
        try:
            expected = float(exact)
        except OverflowError:  # the mean is then the correctly rounded exact quotient
            with pytest.raises(OverflowError):
                total.rounded()
            assert total.mean(7) == float(exact / 7)
        else:  # as fsum(values) / len(values)
            assert total.rounded() == expected
            assert total.mean(7) == expected / 7


def test_exact_sum_cancels_huge_and_tiny_values() -> None:
    values = [1e300, 1.0, 1e-300, -1e300, 3.0, -1.0]
    total = ExactSum(values)
    assert total.rounded() == 3.0 + 1e-300 == math.fsum(values)
    total.update(removed=[3.0])
    assert total.rounded() == 1e-300


def test_exact_sum_accepts_ints_and_fractions_as_floats() -> None:
    total = ExactSum([Fraction(1, 3), 10**20, 2])
    assert total.rounded() == math.fsum([1 / 3, 1e20, 2.0])


def test_exact_sum_leaves_and_reenters_the_float_range() -> None:
    big = sys.float_info.max
    total = ExactSum([big, big])
    assert total.mean(2) == big
    with pytest.raises(OverflowError):
        total.rounded()
    total.update(removed=[big])
    assert total.rounded() == big
    total.update([-big, 0.5])
    assert total.rounded() == 0.5


def test_exact_sum_of_random_bulk_updates() -> None:
    rng = random.Random(9)
    values = [rng.uniform(-1, 1) * 10.0 ** rng.randint(-200, 200) for _ in range(2_000)]
    total = ExactSum(values[:1_000])
    total.update(values[1_000:], values[:500])
    assert total.rounded() == math.fsum(values[500:])
