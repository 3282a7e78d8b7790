"""The batch helper: a whole series of moving averages at once.

``moving_average_series(values, kind, n, alpha=...)[i]`` is what ``getMovingAverage()``
returns after feeding ``values[: i + 1]`` one by one to ``create_moving_average(kind, n,
alpha=alpha)``: the same numbers, bit for bit (warm-up included: the first windows average
the elements there are, unlike pandas' leading NaNs).

- ``"sma"`` and ``"cma"`` are vectorised (``movingavg.engines.rolling``): exact window sums in
  a few numpy passes, about as fast as ``pandas.Series.rolling(n).mean()``.
- ``"wma"`` and ``"ema"`` run the streaming engine over the values (pure Python, O(len)).

numpy is imported on first use, so importing ``movingavg`` stays light.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from movingavg.engines.factory import create_moving_average
from movingavg.engines.validation import Element, check_value

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["moving_average_series"]


def moving_average_series(
    values: Iterable[Element] | NDArray[np.generic],
    kind: str = "sma",
    n: int | None = None,
    *,
    alpha: float | None = None,
) -> NDArray[np.float64]:
    """Return the moving average after each element of ``values``, as a float64 array.

    ``kind``, ``n`` and ``alpha`` are as for ``create_moving_average``. ``values`` is an
    iterable of elements, validated like ``addElement`` (TypeError, ValueError naming the
    position), or a 1-D numpy array (or array-like such as a pandas Series) of integer or
    floating dtype, taken as float64; bool arrays raise TypeError, non-finite values
    ValueError.
    """
    import numpy as np

    engine = create_moving_average(kind, n, alpha=alpha)  # validates kind, n and alpha
    array = _as_float64(values)
    if kind in ("sma", "cma"):
        from movingavg.engines.rolling import rolling_fsums

        # None for "cma"; create_moving_average has checked that "sma" has an int n
        size = n if kind == "sma" else None
        sums = rolling_fsums(array, size)
        if sums is not None:
            window = array.size if size is None else min(size, array.size)
            sums[:window] /= np.arange(1, window + 1)
            sums[window:] /= window
            return sums
    out = np.empty(array.size)
    add, average = engine.addElement, engine.getMovingAverage
    for index, value in enumerate(array.tolist()):
        add(value)
        out[index] = average()
    return out


def _as_float64(values: Iterable[object] | NDArray[np.generic]) -> NDArray[np.float64]:
    """Validate ``values`` and return them as a 1-D float64 array (a new one or ``values``)."""
    import numpy as np

    if hasattr(values, "__array__") and not isinstance(values, np.ndarray):
        values = np.asarray(values)
    if isinstance(values, np.ndarray) and values.dtype.kind != "O":
        if values.ndim != 1:
            raise ValueError(f"values must be one-dimensional, got shape {values.shape}")
        if values.dtype.kind not in "iuf":
            raise TypeError(f"values must have an integer or float dtype, not {values.dtype}")
        array = values.astype(np.float64, copy=False)
        finite = np.isfinite(array)
        if not finite.all():
            index = int(np.flatnonzero(~finite)[0])
            raise ValueError(f"values[{index}] is {float(array[index])!r}: elements must be finite")
        return array
    checked: list[float] = []
    for index, value in enumerate(values):
        try:
            checked.append(float(check_value(value)))
        except (TypeError, ValueError) as error:
            raise type(error)(f"values[{index}]: {error}") from None
    return np.array(checked, dtype=np.float64)
