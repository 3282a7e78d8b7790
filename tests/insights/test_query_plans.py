"""Which stored rows answer a query (pure logic, fixed clock): weeks and years have no
rollups of their own, so they are regrouped from the coarsest stored buckets that tile them."""

from __future__ import annotations

import datetime as dt

import pytest

from insights.queries import Plan, Source, parse_query

NOW = dt.datetime(2026, 11, 26, 19, 42, tzinfo=dt.UTC)  # a Thursday


def plan(**params: object) -> Plan:
    analysis = str(params.pop("analysis", "count"))
    return parse_query(analysis, {"event_collection": "e", **params}, now=NOW).plan


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"timeframe": "previous_4_weeks", "interval": "weekly"},
            Plan(Source.REGROUPED_ROLLUPS, "day"),
        ),
        (
            {"timeframe": "previous_2_years", "interval": "yearly"},
            Plan(Source.REGROUPED_ROLLUPS, "month"),
        ),
        (
            {
                "timeframe": "previous_2_years",
                "interval": "yearly",
                "analysis": "count_unique",
                "target_property": "distinct_id",
            },
            Plan(Source.REGROUPED_ROLLUPS, "month"),
        ),
        (
            {"timeframe": "previous_4_weeks", "interval": "weekly", "timezone": "US/Pacific"},
            Plan(Source.REGROUPED_ROLLUPS, "hour"),
        ),
        (
            {"timeframe": "previous_3_days", "interval": "daily", "timezone": "Asia/Kolkata"},
            Plan(Source.RAW_EVENTS, None),
        ),
        ({"timeframe": "previous_3_days", "interval": "daily"}, Plan(Source.ROLLUPS, "day")),
        (
            {
                "timeframe": "previous_4_weeks",
                "interval": "weekly",
                "filters": [{"property_name": "a", "operator": "exists", "property_value": True}],
            },
            Plan(Source.RAW_EVENTS, None),
        ),
    ],
)
def test_the_plan_of_each_interval(params, expected) -> None:
    assert plan(**params) == expected
