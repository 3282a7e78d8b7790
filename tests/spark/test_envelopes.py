"""spark/envelopes.py: Kafka records parsed into events, non-events with their reason."""

from __future__ import annotations

import datetime as dt
import json

from pyspark.sql import SparkSession

from spark.envelopes import invalid_records, parse_records, valid_events
from tests.spark.records import envelope, events_df, records


def test_parse_keeps_fields_exactly(spark: SparkSession) -> None:
    record = envelope(
        "a",
        "2026-11-26T23:59:59.500Z",
        properties={"cart": {"total": 9.5}, "n": "7"},
        numeric_properties={"cart.total": "9.5", "big": "1e+40", "bad": "12abc", "old": 1e40},
    )
    [row] = valid_events(parse_records(records(spark, [record]))).collect()
    assert (row.event_id, row.project_id, row.category) == ("a", "p1", "web")
    assert row.event_time == dt.datetime(2026, 11, 26, 23, 59, 59, 500000)
    assert row.day == dt.date(2026, 11, 26)
    assert json.loads(row.properties) == {"cart": {"total": 9.5}, "n": "7"}
    assert json.loads(row.context) == {"ip": "127.0.0.1"}
    # Each number is kept as its exact text, whatever its size; text that is not a
    # JSON number is left out; a number (an envelope from before numbers were text)
    # is read as Spark prints it.
    assert row.numeric_properties == {"cart.total": "9.5", "big": "1e+40", "old": "1.0E40"}
    assert (row.topic, row.partition, row.offset) == ("t", 0, 0)


def test_parse_sends_non_events_to_invalid_with_the_reason(spark: SparkSession) -> None:
    good = envelope("a", "2026-11-26T10:00:00Z")
    no_time = envelope("b", "yesterday")
    no_name = {k: v for k, v in envelope("c", "2026-11-26T10:00:00Z").items() if k != "name"}
    parsed = parse_records(records(spark, [good, b"not json", no_time, no_name, [1, 2]]))
    assert [r.event_id for r in valid_events(parsed).collect()] == ["a"]
    invalid = {r.offset: (r.reason, r.value) for r in invalid_records(parsed).collect()}
    assert invalid == {
        1: ("not a JSON event envelope", "not json"),
        2: ("missing or invalid: event_time", json.dumps(no_time)),
        3: ("missing or invalid: name", json.dumps(no_name)),
        4: ("not a JSON event envelope", "[1, 2]"),
    }


def test_parse_places_an_event_stamped_after_it_was_received_at_its_received_time(
    spark: SparkSession,
) -> None:
    """Issue 12: an event stamped ahead of its receipt (a fast client clock, within the
    allowed skew) got a daily bucket but no hourly one the query could see, and the raw
    scan missed it. Old code: event_time was the timestamp (10:40)."""
    ahead = envelope("a", "2026-11-26T10:40:00Z", received_at="2026-11-26T09:55:00.250Z")
    behind = envelope("b", "2026-11-20T08:00:00Z", received_at="2026-11-26T09:55:00Z")
    rows = {r.event_id: (r.event_time, r.day) for r in events_df(spark, [ahead, behind]).collect()}
    assert rows == {
        "a": (dt.datetime(2026, 11, 26, 9, 55, 0, 250000), dt.date(2026, 11, 26)),
        "b": (dt.datetime(2026, 11, 20, 8, 0), dt.date(2026, 11, 20)),
    }
