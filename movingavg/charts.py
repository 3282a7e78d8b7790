"""A time series and its moving average as an inline SVG line chart, rendered on the server."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT, PAD = 900, 260, 36


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    values_points: str  # SVG polyline points
    average_points: str
    low: float
    high: float
    first_label: str
    last_label: str


def _points(values: list[float | None], low: float, high: float) -> str:
    span = (high - low) or 1.0
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)
    return " ".join(
        f"{PAD + i * step:.1f},{HEIGHT - PAD - (v - low) / span * (HEIGHT - 2 * PAD):.1f}"
        for i, v in enumerate(values)
        if v is not None
    )


def line_chart(series: list[dict]) -> Chart:
    """``series``: query-API points (``timeframe``, ``value``, ``moving_average``)."""
    values = [p["value"] for p in series]
    averages = [p.get("moving_average") for p in series]
    known = [v for v in values + averages if v is not None]
    low, high = (min(known), max(known)) if known else (0.0, 1.0)
    low = min(low, 0.0)
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        values_points=_points(values, low, high),
        average_points=_points(averages, low, high),
        low=low,
        high=high,
        first_label=series[0]["timeframe"]["start"] if series else "",
        last_label=series[-1]["timeframe"]["start"] if series else "",
    )
