"""Moving averages: the pure engines (``movingavg.engines``) and, on top, a Django app.

    >>> from movingavg import SimpleMovingAverage
    >>> sma = SimpleMovingAverage(3)
    >>> for x in (1, 2, 3, 4):
    ...     sma.addElement(x)
    >>> sma.getMovingAverage(), list(sma.getElements())
    (3.0, [2, 3, 4])

Layering, one way: ``movingavg.engines`` is a leaf package (pure Python, no Django), whose
public names this package re-exports; see its docstring for the contract. The Django app
sits on top: ``apps`` (the app config), ``models`` (metric definitions), ``admin`` (the
metric browser, which reads through ``insights``) and ``charts``. No Django import at
package level, so ``import movingavg`` needs no settings.
"""

from __future__ import annotations

from movingavg.engines import (
    ENGINES,
    KINDS,
    CumulativeMovingAverage,
    EmptyWindowError,
    ExponentialMovingAverage,
    MovingAverageInterface,
    SimpleMovingAverage,
    WeightedMovingAverage,
    WindowView,
    create_moving_average,
    moving_average_series,
)

__all__ = [
    "ENGINES",
    "KINDS",
    "CumulativeMovingAverage",
    "EmptyWindowError",
    "ExponentialMovingAverage",
    "MovingAverageInterface",
    "SimpleMovingAverage",
    "WeightedMovingAverage",
    "WindowView",
    "create_moving_average",
    "moving_average_series",
]
