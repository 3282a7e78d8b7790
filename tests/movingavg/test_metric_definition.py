"""Metric definitions: validation and the query parameters they stand for (pure)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from movingavg.charts import series_chart
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


def test_chart_data_is_local_time_with_formatted_numbers() -> None:
    series = [
        {
            "timeframe": {"start": f"2026-11-0{n}T00:00:00.000+01:00"},
            "value": v,
            "moving_average": a,
        }
        for n, v, a in [(1, 1234, 1234.0), (2, "10.25", 622.125), (3, None, None)]
    ]
    chart = series_chart(series, average_name="SMA")
    assert chart["x"] == ["2026-11-01 00:00:00", "2026-11-02 00:00:00", "2026-11-03 00:00:00"]
    assert chart["values"] == [1234, 10.25, None]
    assert chart["value_texts"] == ["1,234", "10.25", ""]
    assert chart["averages"] == [1234.0, 622.125, None]
    assert chart["average_texts"] == ["1,234", "622.12", ""]
    assert chart["average_name"] == "SMA"
