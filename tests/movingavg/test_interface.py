"""The abstract interface, the factory and the package surface."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict, cast

import numpy as np
import pytest

import movingavg
from movingavg import (
    ENGINES,
    KINDS,
    CumulativeMovingAverage,
    ExponentialMovingAverage,
    MovingAverageInterface,
    SimpleMovingAverage,
    WeightedMovingAverage,
    create_moving_average,
)
from movingavg.engines.validation import Element

REPO_ROOT = Path(__file__).resolve().parents[2]

WindowedEngine = Callable[..., MovingAverageInterface]


class FactoryOptions(TypedDict, total=False):
    """The keyword arguments of ``create_moving_average``."""

    alpha: float


def test_interface_cannot_be_instantiated() -> None:
    with pytest.raises(TypeError, match="abstract"):
        MovingAverageInterface()  # type: ignore[abstract]


def test_incomplete_implementation_cannot_be_instantiated() -> None:
    class Partial(MovingAverageInterface):
        def addElement(self, value: Element) -> None:
            pass

    with pytest.raises(TypeError, match="abstract"):
        Partial()  # type: ignore[abstract]


def test_minimal_implementation_gets_bound_aliases() -> None:
    class Last(MovingAverageInterface):
        def __init__(self) -> None:
            self.items: list[Element] = []

        def addElement(self, value: Element) -> None:
            self.items.append(value)

        def getMovingAverage(self) -> float:
            return float(self.items[-1])

        def getElements(self) -> tuple[Element, ...]:
            return tuple(self.items)

    last = Last()
    last.add_element(3.0)
    assert last.get_moving_average() == 3.0
    assert last.get_elements() == (3.0,)
    assert Last.add_element is Last.addElement


def test_an_override_in_a_subclass_rebinds_the_alias() -> None:
    class Doubled(SimpleMovingAverage):
        def getMovingAverage(self) -> float:
            return 2 * super().getMovingAverage()

    doubled = Doubled(2)
    doubled.add_element(1.5)
    assert doubled.get_moving_average() == 3.0


def test_import_needs_no_django_settings() -> None:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    code = (
        "import sys\n"
        "from movingavg import MovingAverageInterface, SimpleMovingAverage\n"
        "sma = SimpleMovingAverage(2)\n"
        "sma.addElement(1); sma.addElement(2)\n"
        "assert sma.getMovingAverage() == 1.5\n"
        "assert 'django' not in sys.modules, 'django imported'\n"
        "assert 'numpy' not in sys.modules, 'numpy imported eagerly'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_app_config() -> None:
    from movingavg.apps import MovingavgConfig

    assert MovingavgConfig.name == "movingavg"
    assert MovingavgConfig.default_auto_field == "django.db.models.BigAutoField"


def test_package_docstring_example() -> None:
    assert doctest.testmod(movingavg).failed == 0


def test_public_names() -> None:
    for name in movingavg.__all__:
        assert hasattr(movingavg, name)
    assert issubclass(movingavg.EmptyWindowError, ValueError)


@pytest.mark.parametrize(
    ("kind", "args", "kwargs", "expected"),
    [
        ("sma", (5,), {}, SimpleMovingAverage),
        ("wma", (5,), {}, WeightedMovingAverage),
        ("cma", (), {}, CumulativeMovingAverage),
        ("ema", (5,), {}, ExponentialMovingAverage),
        ("ema", (), {"alpha": 0.2}, ExponentialMovingAverage),
    ],
)
def test_factory_builds_each_kind(
    kind: str,
    args: tuple[int, ...],
    kwargs: FactoryOptions,
    expected: type[MovingAverageInterface],
) -> None:
    engine = create_moving_average(kind, *args, **kwargs)
    assert type(engine) is expected
    assert ENGINES[kind] is expected
    assert kind in KINDS


def test_factory_passes_span_and_alpha_to_the_ema() -> None:
    by_span = create_moving_average("ema", 9)
    assert isinstance(by_span, ExponentialMovingAverage)
    assert by_span.alpha == 0.2
    assert by_span.span == 9
    by_alpha = create_moving_average("ema", alpha=0.5)
    assert isinstance(by_alpha, ExponentialMovingAverage)
    assert by_alpha.alpha == 0.5
    assert by_alpha.span == 3


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: create_moving_average("median", 3), ValueError, "unknown kind"),
        (lambda: create_moving_average("SMA", 3), ValueError, "unknown kind"),
        (lambda: create_moving_average(cast(Any, None), 3), TypeError, "kind must be a str"),
        (lambda: create_moving_average("sma"), TypeError, "needs a window size"),
        (lambda: create_moving_average("wma"), TypeError, "needs a window size"),
        (lambda: create_moving_average("cma", 3), TypeError, "no window size"),
        (lambda: create_moving_average("sma", 3, alpha=0.5), TypeError, "alpha applies"),
        (lambda: create_moving_average("ema"), TypeError, "exactly one"),
        (lambda: create_moving_average("ema", 3, alpha=0.5), TypeError, "exactly one"),
    ],
)
def test_factory_rejects_bad_parameters(
    call: Callable[[], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    "make",
    [SimpleMovingAverage, WeightedMovingAverage, ExponentialMovingAverage],
    ids=lambda make: make.__name__,
)
class TestWindowSize:
    @pytest.mark.parametrize("size", [0, -1, -(10**30)])
    def test_not_positive_is_a_value_error(self, make: WindowedEngine, size: int) -> None:
        with pytest.raises(ValueError, match="positive int"):
            make(size)

    @pytest.mark.parametrize("size", [2.0, 2.5, "3", True, False, np.float64(3), None])
    def test_not_an_int_is_a_type_error(self, make: WindowedEngine, size: object) -> None:
        with pytest.raises(TypeError):
            make(size)

    def test_integer_like_sizes_are_accepted(self, make: WindowedEngine) -> None:
        engine = make(np.int64(4))
        engine.addElement(1.0)
        assert engine.getMovingAverage() == 1.0


@pytest.mark.parametrize("alpha", [0, 0.0, -0.1, 1.0000001, 2, float("nan"), float("inf")])
def test_alpha_out_of_range_is_a_value_error(alpha: float) -> None:
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        ExponentialMovingAverage(alpha=alpha)


@pytest.mark.parametrize("alpha", ["0.5", True, None, 1j])
def test_alpha_of_the_wrong_type_is_a_type_error(alpha: Any) -> None:
    with pytest.raises(TypeError):
        ExponentialMovingAverage(alpha=alpha) if alpha is not None else ExponentialMovingAverage()
