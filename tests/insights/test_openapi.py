"""The query API's OpenAPI descriptions state what the code does (they are generated
from the constants the parameters are checked against)."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from django.test import Client

from insights.queries import ANALYSES, COMPOUND_ANALYSES, MAX_WINDOW, parse_query
from insights.timeframes import INTERVALS, UNITS, granularity_of, parse_timezone
from movingavg.engines import KINDS


def parameters(schema: dict, path: str) -> dict[str, dict]:
    return {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}


@pytest.mark.django_db
def test_query_parameters_describe_what_the_code_accepts() -> None:
    schema = yaml.safe_load(Client().get("/api/v1/schema").content)
    native = parameters(schema, "/api/v1/insights/{analysis}")
    keen = parameters(schema, "/3.0/projects/{project_id}/queries/{analysis}")
    for params in (native, keen):
        timezone = params["timezone"]["description"]
        assert "not supported" not in timezone
        assert "UTC only" not in timezone
        assert "US/Pacific" in timezone
        assert "offset in seconds" in timezone
        interval = params["interval"]["description"]
        assert all(name in interval for name in INTERVALS), interval
        assert all(unit in params["timeframe"]["description"] for unit in UNITS)
        analysis = params["analysis"]["description"]
        assert all(name in analysis for name in (*ANALYSES, *COMPOUND_ANALYSES))
    assert all(kind in native["kind"]["description"] for kind in KINDS)
    assert str(MAX_WINDOW) in native["window"]["description"]
    # ... and the code accepts what they say
    assert parse_timezone("US/Pacific") is not dt.UTC
    assert parse_timezone("-28800") is not dt.UTC
    assert all(granularity_of(name) for name in INTERVALS)
    now = dt.datetime(2026, 11, 3, 12, tzinfo=dt.UTC)
    for kind in KINDS:
        base = {"event_collection": "e", "timeframe": "previous_3_days", "interval": "daily"}
        window: dict[str, int] = {} if kind == "cma" else {"window": MAX_WINDOW}
        query = parse_query("count", {**base, "kind": kind, **window}, now=now)
        assert query.moving_average is not None
        assert query.moving_average.kind == kind
