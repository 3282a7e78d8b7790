"""Interval results as Keen's series, with the moving average on each point when asked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from movingavg.engines import create_moving_average

from .queries import MovingAverage, Query
from .timeframes import iso


def series_of(
    query: Query, values: Sequence[tuple[dt.datetime, dt.datetime, object]]
) -> list[dict]:
    """``[{"timeframe": {"start", "end"}, "value"}]`` in ``query``'s zone, one per
    ``(start, end, value)``, with ``moving_average`` when the query has one."""
    series = [
        {"timeframe": {"start": iso(start, query.tz), "end": iso(stop, query.tz)}, "value": value}
        for start, stop, value in values
    ]
    if query.moving_average is not None:
        return with_moving_average(series, query.moving_average)
    return series


def with_moving_average(series: list[dict], average: MovingAverage) -> list[dict]:
    """``series`` with ``moving_average`` on each point, from the movingavg engines.

    Points without a value (an empty bucket's minimum, say) get None and do not
    enter the average."""
    engine = create_moving_average(average.kind, average.window)
    result = []
    for point in series:
        value = point["value"]
        if value is not None:
            engine.addElement(value)
        moving = engine.getMovingAverage() if value is not None else None
        result.append({**point, "moving_average": moving})
    return result
