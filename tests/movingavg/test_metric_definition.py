"""Metric definitions: validation and the query parameters they stand for (pure)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from movingavg.charts import line_chart
from movingavg.engines import KINDS
from movingavg.models import MetricDefinition


def test_validation_names_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        MetricDefinition(
            name="m", event_collection="e", analysis="sum", kind="sma", window=3
        ).clean()
    assert "target_property" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        MetricDefinition(name="m", event_collection="e", kind="cma", window=3).clean()
    assert "window" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        MetricDefinition(name="m", event_collection="e", kind="ema").clean()
    assert "window" in caught.value.message_dict


def test_query_params() -> None:
    unique = MetricDefinition(
        event_collection="e", analysis="count_unique", interval="hourly", kind="sma", window=24
    )
    assert unique.query_params() == {
        "event_collection": "e",
        "interval": "hourly",
        "kind": "sma",
        "target_property": "distinct_id",
        "window": 24,
    }
    total = MetricDefinition(
        event_collection="e", analysis="sum", target_property="amount", kind="cma"
    )
    assert total.query_params() == {
        "event_collection": "e",
        "interval": "daily",
        "kind": "cma",
        "target_property": "amount",
    }


def test_kinds_are_the_engines_kinds() -> None:
    assert sorted(MetricDefinition.Kind.values) == sorted(KINDS)


def test_chart_scales_points_into_the_frame() -> None:
    series = [
        {"timeframe": {"start": f"2026-11-0{n}T00:00:00.000Z"}, "value": v, "moving_average": a}
        for n, v, a in [(1, 0, 0.0), (2, 10, 5.0), (3, None, None)]
    ]
    chart = line_chart(series)
    assert chart.values_points == "36.0,224.0 450.0,36.0"
    assert chart.average_points == "36.0,224.0 450.0,130.0"
    assert (chart.low, chart.high, chart.first_label) == (0.0, 10, "2026-11-01T00:00:00.000Z")
