"""The contract every engine honours (run once per engine, see conftest.ENGINES)."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any, cast

import numpy as np
import pytest

from movingavg import EmptyWindowError, MovingAverageInterface

EngineSpec = tuple[Callable[[], MovingAverageInterface], int | None]  # see conftest.ENGINES


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 5


def snapshot(engine: MovingAverageInterface) -> tuple[list[object], float | None]:
    try:
        average = engine.getMovingAverage()
    except EmptyWindowError:
        average = None
    return list(engine.getElements()), average


def test_implements_the_interface(engine: MovingAverageInterface) -> None:
    assert isinstance(engine, MovingAverageInterface)


def test_empty_window_raises_the_documented_value_error(engine: MovingAverageInterface) -> None:
    with pytest.raises(EmptyWindowError, match="empty window"):
        engine.getMovingAverage()
    with pytest.raises(ValueError, match="add an element first"):
        engine.get_moving_average()
    assert list(engine.getElements()) == []


def test_one_element_is_its_own_average(engine: MovingAverageInterface) -> None:
    engine.addElement(7.25)
    assert engine.getMovingAverage() == 7.25
    assert isinstance(engine.getMovingAverage(), float)


def test_constant_input_has_that_average(engine: MovingAverageInterface) -> None:
    for _ in range(250):
        engine.addElement(-3.75)
    assert engine.getMovingAverage() == -3.75


def test_constant_input_is_within_an_ulp(engine: MovingAverageInterface) -> None:
    # SMA and CMA return fsum(window) / len(window), which rounds twice: three 0.1s
    # average to 0.10000000000000002, as with numpy and pandas.
    for _ in range(250):
        engine.addElement(0.1)
    assert abs(engine.getMovingAverage() - 0.1) <= math.ulp(0.1)


def test_elements_are_oldest_first_and_bounded(engine_spec: EngineSpec) -> None:
    factory, retained = engine_spec
    engine = factory()
    values = [float(i) for i in range(1, 151)]
    for value in values:
        engine.addElement(value)
    expected = values if retained is None else values[-retained:]
    assert list(engine.getElements()) == expected
    assert engine.getElements()[0] == expected[0]
    assert engine.getElements()[-1] == values[-1]
    assert list(reversed(engine.getElements())) == expected[::-1]
    assert len(engine.getElements()) == len(expected)


def test_get_elements_is_a_live_read_only_view(engine: MovingAverageInterface) -> None:
    view = engine.getElements()
    assert isinstance(view, Sequence)
    engine.addElement(1.0)
    engine.addElement(2)
    assert list(view) == [1.0, 2]  # live: reflects elements added after the call
    assert view == [1.0, 2]
    assert 2 in view
    assert view[-1] == 2
    assert view[0:1] == [1.0]
    with pytest.raises(TypeError):
        view[0] = 5.0
    with pytest.raises(TypeError):
        del view[0]
    for mutator in ("append", "appendleft", "pop", "popleft", "clear", "extend", "remove"):
        assert not hasattr(view, mutator)
    with pytest.raises(IndexError):
        view[2]
    assert list(engine.getElements()) == [1.0, 2]


def test_pep8_aliases_are_the_same_functions(engine: MovingAverageInterface) -> None:
    cls = type(engine)
    assert cls.add_element is cls.addElement
    assert cls.get_moving_average is cls.getMovingAverage
    assert cls.get_elements is cls.getElements
    engine.add_element(2.0)
    engine.add_element(4.0)
    assert engine.get_moving_average() == engine.getMovingAverage()
    assert list(engine.get_elements()) == list(engine.getElements())


@pytest.mark.parametrize(
    "value",
    [3, -2, 10**20, 0.5, -0.0, 5e-324, Fraction(1, 3), np.float64(2.5), Level.HIGH],
    ids=repr,
)
def test_accepts_real_numbers(engine: MovingAverageInterface, value: object) -> None:
    engine.addElement(value)  # type: ignore[arg-type]
    assert engine.getMovingAverage() == float(value)  # type: ignore[arg-type]
    assert list(engine.getElements()) == [value]


def test_keeps_ints_and_fractions_as_given(engine: MovingAverageInterface) -> None:
    engine.addElement(Fraction(1, 3))
    engine.addElement(Level.LOW)
    engine.addElement(np.float64(0.5))
    stored = list(engine.getElements())
    assert stored == [Fraction(1, 3), 1, 0.5]
    assert [type(value) for value in stored] == [Fraction, int, float]


@pytest.mark.parametrize(
    "value",
    [True, False, np.True_, Decimal("1.5"), "1.5", None, 1j, np.float32(1.5), np.int64(3), [1.0]],
    ids=repr,
)
def test_rejects_non_real_values_with_type_error(
    engine: MovingAverageInterface, value: Any
) -> None:
    engine.addElement(1.0)
    before = snapshot(engine)
    with pytest.raises(TypeError):
        engine.addElement(value)
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, np.float64("nan"), 10**400, Fraction(10**400, 3)],
    ids=repr,
)
def test_rejects_non_finite_values_with_value_error(
    engine: MovingAverageInterface, value: Any
) -> None:
    engine.addElement(2.0)
    before = snapshot(engine)
    with pytest.raises(ValueError, match=r"finite|too large"):
        engine.addElement(value)
    assert snapshot(engine) == before


def test_rejected_first_value_leaves_the_engine_empty(engine: MovingAverageInterface) -> None:
    with pytest.raises(ValueError, match="finite"):
        engine.addElement(math.nan)
    with pytest.raises(TypeError):
        engine.addElement(True)
    with pytest.raises(EmptyWindowError):
        engine.getMovingAverage()
    engine.addElement(4.0)
    assert engine.getMovingAverage() == 4.0


def test_decimal_error_says_how_to_convert(engine: MovingAverageInterface) -> None:
    with pytest.raises(TypeError, match=r"float\(x\) or Fraction\(x\)"):
        engine.addElement(cast(Any, Decimal("0.1")))  # deliberately not an Element


def test_bool_error_says_how_to_average_flags(engine: MovingAverageInterface) -> None:
    with pytest.raises(TypeError, match=r"int\(flag\)"):
        engine.addElement(True)
    engine.addElement(int(True))
    assert engine.getMovingAverage() == 1.0


def test_reading_does_not_change_the_result(engine: MovingAverageInterface) -> None:
    for value in (1.0, 1e100, -1e100, 3.0, 0.25):
        engine.addElement(value)
        first = engine.getMovingAverage()
        assert engine.getMovingAverage() == first
        list(engine.getElements())
        assert engine.getMovingAverage() == first


def test_repr_names_the_engine(engine: MovingAverageInterface) -> None:
    assert type(engine).__name__ in repr(engine)
