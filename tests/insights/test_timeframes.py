"""Keen timeframes, intervals and bucket tiling (pure logic, fixed clock)."""

from __future__ import annotations

import datetime as dt

import pytest

from insights.timeframes import (
    QueryError,
    Timeframe,
    buckets,
    coarsest_granularity,
    granularity_of,
    parse_timezone,
    resolve_timeframe,
)

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 26, 19, 42, 13, 500000, tzinfo=UTC)  # a Thursday


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "start", "end", "open_end"),
    [
        ("this_7_days", at(2026, 11, 20), NOW, True),
        ("today", at(2026, 11, 26), NOW, True),
        ("previous_3_hours", at(2026, 11, 26, 16), at(2026, 11, 26, 19), False),
        ("yesterday", at(2026, 11, 25), at(2026, 11, 26), False),
        ("this_2_months", at(2026, 10, 1), NOW, True),
        ("previous_1_months", at(2026, 10, 1), at(2026, 11, 1), False),
        ("previous_14_months", at(2025, 9, 1), at(2026, 11, 1), False),
        ("this_week", at(2026, 11, 23), NOW, True),  # weeks start on Monday (WEEK_START)
        ("previous_2_minutes", at(2026, 11, 26, 19, 40), at(2026, 11, 26, 19, 42), False),
        ("this_1_years", at(2026, 1, 1), NOW, True),
    ],
)
def test_relative_timeframes(value, start, end, open_end) -> None:
    assert resolve_timeframe(value, now=NOW) == Timeframe(start, end, open_end)


def test_weeks_start_on_sunday_when_week_start_says_so(settings) -> None:
    settings.WEEK_START = "sunday"
    assert resolve_timeframe("previous_1_weeks", now=NOW) == Timeframe(
        at(2026, 11, 15), at(2026, 11, 22)
    )
    assert buckets(Timeframe(at(2026, 11, 15), at(2026, 11, 29)), "week") == [
        at(2026, 11, 15),
        at(2026, 11, 22),
    ]


def test_weekly_and_yearly_buckets_follow_the_zone() -> None:
    pacific = parse_timezone("US/Pacific")
    weeks = resolve_timeframe("previous_2_weeks", now=NOW, tz=pacific)
    assert buckets(weeks, "week", pacific) == [
        at(2026, 11, 9, 8),  # Monday 00:00 in Los Angeles (PST)
        at(2026, 11, 16, 8),
    ]
    years = resolve_timeframe("previous_2_years", now=NOW, tz=pacific)
    assert buckets(years, "year", pacific) == [
        at(2024, 1, 1, 8),
        at(2025, 1, 1, 8),
    ]


def test_absolute_timeframes_as_object_or_json() -> None:
    expected = Timeframe(at(2026, 11, 1), at(2026, 11, 2, 1))
    value = {"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T02:00:00+01:00"}
    assert resolve_timeframe(value, now=NOW) == expected
    assert (
        resolve_timeframe(
            '{"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T01:00:00Z"}', now=NOW
        )
        == expected
    )


@pytest.mark.parametrize(
    ("value", "field", "fragment"),
    [
        (None, "timeframe", "is required"),
        ("last_week", "timeframe", "is not a timeframe"),
        ("this_0_days", "timeframe", "at least 1"),
        ({"start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "timeframe", "before"),
        ({"start": "2026-11-01T00:00", "end": "2026-11-02T00:00Z"}, "timeframe.start", "offset"),
        ({"start": "2026-11-01T00:00:00Z", "end": "soon"}, "timeframe.end", "ISO-8601"),
    ],
)
def test_bad_timeframes_name_the_field(value, field, fragment) -> None:
    with pytest.raises(QueryError) as caught:
        resolve_timeframe(value, now=NOW)
    assert caught.value.field == field
    assert fragment in caught.value.message


def test_buckets_tile_the_timeframe_and_are_bounded() -> None:
    frame = resolve_timeframe("previous_3_hours", now=NOW)
    assert buckets(frame, "hour") == [at(2026, 11, 26, h) for h in (16, 17, 18)]
    assert buckets(resolve_timeframe("this_2_days", now=NOW), "day") == [
        at(2026, 11, 25),
        at(2026, 11, 26),
    ]
    assert buckets(resolve_timeframe("previous_2_months", now=NOW), "month") == [
        at(2026, 9, 1),
        at(2026, 10, 1),
    ]
    with pytest.raises(QueryError, match="more than 2500 buckets"):
        buckets(resolve_timeframe("previous_2501_hours", now=NOW), "hour")
    with pytest.raises(QueryError, match="must start on a whole day"):
        buckets(Timeframe(at(2026, 11, 1, 5), at(2026, 11, 3)), "day")


def test_coarsest_granularity_and_intervals() -> None:
    assert coarsest_granularity(resolve_timeframe("previous_2_months", now=NOW)) == "month"
    assert coarsest_granularity(resolve_timeframe("this_7_days", now=NOW)) == "day"
    assert coarsest_granularity(resolve_timeframe("previous_5_hours", now=NOW)) == "hour"
    with pytest.raises(QueryError, match="whole hours"):
        coarsest_granularity(resolve_timeframe("previous_5_minutes", now=NOW))
    assert granularity_of("daily") == "day"
    assert granularity_of(None) is None
    assert ("week", "year") == ("week", "year")
    with pytest.raises(QueryError) as caught:
        granularity_of("fortnightly")
    assert caught.value.field == "interval"


def test_time_zones_shift_days_but_not_hours() -> None:
    from zoneinfo import ZoneInfo

    assert parse_timezone("UTC") is UTC
    assert parse_timezone("-18000").utcoffset(None) == dt.timedelta(hours=-5)
    pacific = parse_timezone("US/Pacific")
    assert pacific == ZoneInfo("US/Pacific")
    with pytest.raises(QueryError) as caught:
        parse_timezone("Mars/Olympus")
    assert caught.value.field == "timezone"
    # 2026-11-01 is the day US clocks go back: that local day lasts 25 hours.
    now = at(2026, 11, 2, 12)  # 04:00 in California
    frame = resolve_timeframe("previous_2_days", now=now, tz=pacific)
    assert frame == Timeframe(at(2026, 10, 31, 7), at(2026, 11, 2, 8))
    assert buckets(frame, "day", pacific) == [at(2026, 10, 31, 7), at(2026, 11, 1, 7)]
    assert resolve_timeframe("previous_2_hours", now=now, tz=pacific) == Timeframe(
        at(2026, 11, 2, 10), at(2026, 11, 2, 12)
    )
