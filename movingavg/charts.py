"""A time series and its moving average as data for the admin's Plotly charts
(``static/movingavg/charts.js`` draws them)."""

from __future__ import annotations

import datetime as dt

from .formatting import format_number


def local_time(start: str) -> str:
    """A bucket's ISO start as wall-clock time in its own zone (``2026-09-29 14:00:00``):
    Plotly draws dates without zones, so the axis shows the query's time zone."""
    moment = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def series_chart(series: list[dict], *, average_name: str = "moving average") -> dict:
    """``series``: query-API points (``timeframe``, ``value``, ``moving_average``), as
    the chart's x (local times), values and averages, with their formatted texts."""
    values = [point["value"] for point in series]
    averages = [point.get("moving_average") for point in series]
    return {
        "x": [local_time(point["timeframe"]["start"]) for point in series],
        "values": [_plottable(v) for v in values],
        "value_texts": [format_number(v) for v in values],
        "averages": [_plottable(v) for v in averages],
        "average_texts": [format_number(v) for v in averages],
        "average_name": average_name,
    }


def _plottable(value: object) -> float | int | None:
    """Exact decimals arrive as text; the chart needs a number (the text keeps the digits)."""
    if value is None or isinstance(value, int | float):
        return value
    return float(str(value))
