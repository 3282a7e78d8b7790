"""One number, whichever path answers (issue 12, section 2).

Events go to Kafka, the Spark job aggregates them into Cassandra, and every analysis
is asked twice through the Keen query API: once answered from the rollups, once from
the raw-event scan (the same query plus a filter every event passes, which forces the
scan). Both answers must be identical, and equal to an exact computation in
``fractions.Fraction`` here, for every interval. A hypothesis property test generates
the event sets, edge values included; focused tests pin each reported case.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from fractions import Fraction

import pytest
from django.conf import settings
from django.test import Client
from hypothesis import HealthCheck, Phase, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from kafka import KafkaProducer

from events.envelope import Envelope
from insights.aggregation import run_aggregation

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "cassandra"])]

START = dt.datetime(2026, 10, 31, tzinfo=dt.UTC)  # two days across a month end
END = START + dt.timedelta(days=2)
MONTHS = {"start": "2026-10-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"}
DAYS = {"start": START.isoformat(), "end": END.isoformat()}
WEEKS = {"start": "2026-10-26T00:00:00Z", "end": "2026-11-09T00:00:00Z"}  # Mondays
YEAR = {"start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"}
EVERY_EVENT = {"property_name": "keen.id", "operator": "exists", "property_value": True}
TARGETS = ("x", "a.b", "flag")
ROLLUP_ANALYSES = ("sum", "average", "minimum", "maximum")
EDGE_NUMBERS = [
    1e308,
    -1e308,
    1.7976931348623157e308,
    5e-324,
    -0.0,
    0.1234567890123456,
    123456789012345678901234567890.5,
    2**64 + 1,
    -(2**70),
    10**40,
    0.1,
    7,
]


def produce(prefix: str, project_id: str, events: list[dict]) -> None:
    """Envelopes of ``events`` (name, timestamp, received_at, properties, distinct_id)
    straight to this test's Kafka topics, as the forwarding worker sends them."""
    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, acks="all")
    for event in events:
        envelope = Envelope(
            event_id=event.get("event_id") or str(uuid.uuid4()),
            project_id=project_id,
            name=event["name"],
            category="web",
            distinct_id=event.get("distinct_id"),
            timestamp=event["timestamp"],
            received_at=event.get("received_at", event["timestamp"]),
            properties=event["properties"],
            source="native",
        )
        producer.send(f"{prefix}.web", json.dumps(envelope.to_record()).encode())
    producer.flush(timeout=60)
    producer.close()


def query(keys: dict, analysis: str, **params) -> object:
    """The ``result`` of one Keen query; asserts it answered 200."""
    encoded = {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in params.items()}
    response = Client().get(
        f"/3.0/projects/{keys['project_id']}/queries/{analysis}",
        encoded,
        HTTP_AUTHORIZATION=keys["read_key"],
    )
    assert response.status_code == 200, (analysis, params, response.content)
    return response.json()["result"]


def both_paths(keys: dict, analysis: str, **params) -> tuple[object, object]:
    """(from the rollups, from the raw-event scan) for the same query."""
    return query(keys, analysis, **params), query(keys, analysis, filters=[EVERY_EVENT], **params)


# --- the exact reference -------------------------------------------------------------


def event_time(event: dict) -> dt.datetime:
    """Where an event counts: its timestamp, or when received if stamped later."""
    return min(event["timestamp"], event.get("received_at", event["timestamp"]))


def values_at(event: dict, path: str) -> list:
    """The values at dotted ``path``: a nested path or a key holding the dot."""
    properties = event["properties"]
    found = []
    if path in properties:
        found.append(properties[path])
    head, _, rest = path.partition(".")
    if rest and isinstance(properties.get(head), dict) and rest in properties[head]:
        found.append(properties[head][rest])
    return found


def numbers(events: list[dict], path: str) -> list[Fraction]:
    return [
        Fraction(repr(v) if isinstance(v, float) else v)
        for e in events
        for v in values_at(e, path)
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]


def as_json(value: Fraction | None):
    """How the API answers an exact value: whole as int, else the nearest double."""
    if value is None:
        return None
    if value.denominator == 1:
        return int(value)
    try:
        return float(value)
    except OverflowError:
        return round(value)


def percentile(values: list[Fraction], percent: Fraction):
    if not values:
        return None
    ordered = sorted(values)
    position = percent / 100 * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return as_json(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def reference(analysis: str, events: list[dict], target: str | None):
    if analysis == "count":
        return len(events)
    if analysis == "count_unique":
        return len({e["distinct_id"] for e in events if e.get("distinct_id")})
    assert target is not None, f"{analysis} needs a target_property"
    found = numbers(events, target)
    if analysis == "sum":
        return as_json(sum(found, Fraction(0)))
    if not found:
        return None
    if analysis == "minimum":
        return as_json(min(found))
    if analysis == "maximum":
        return as_json(max(found))
    if analysis == "average":
        return as_json(sum(found, Fraction(0)) / len(found))
    if analysis == "median":
        return percentile(found, Fraction(50))
    return percentile(found, Fraction(90))


UTC = dt.UTC
INTERVALS = [  # (interval, timeframe, the buckets it answers)
    (None, DAYS, [(START, END)]),
    (
        "hourly",
        DAYS,
        [(START + dt.timedelta(hours=h), START + dt.timedelta(hours=h + 1)) for h in range(48)],
    ),
    ("daily", DAYS, [(START, START + dt.timedelta(days=1)), (START + dt.timedelta(days=1), END)]),
    (
        "monthly",
        MONTHS,
        [
            (dt.datetime(2026, 10, 1, tzinfo=UTC), START + dt.timedelta(days=1)),
            (START + dt.timedelta(days=1), dt.datetime(2026, 12, 1, tzinfo=UTC)),
        ],
    ),
    (  # weeks start on Monday: no rollups are stored by week, days are regrouped
        "weekly",
        WEEKS,
        [(dt.datetime(2026, 10, 26, tzinfo=UTC), END), (END, dt.datetime(2026, 11, 9, tzinfo=UTC))],
    ),
    ("yearly", YEAR, [(dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2027, 1, 1, tzinfo=UTC))]),
]


def assert_paths_agree(keys: dict, name: str, events: list[dict]) -> None:
    """Every analysis and interval: rollups == raw scan == the exact reference."""
    plan = [("count", None), ("count_unique", "distinct_id")]
    plan += [(analysis, target) for target in TARGETS for analysis in ROLLUP_ANALYSES]
    for interval, frame, spans in INTERVALS:
        params = {"event_collection": name, "timeframe": frame}
        if interval:
            params["interval"] = interval

        def series(result, interval=interval) -> list:
            return [p["value"] for p in result] if interval else [result]

        def wanted(analysis: str, target: str | None, spans=spans) -> list:
            values = [
                reference(analysis, [e for e in events if a <= event_time(e) < b], target)
                for a, b in spans
            ]
            return (
                [v or 0 for v in values] if analysis in ("count", "count_unique", "sum") else values
            )

        for analysis, target in plan:
            extra: dict[str, object] = {"target_property": target} if target else {}
            rollup, raw = both_paths(keys, analysis, **params, **extra)
            where = (analysis, target, interval)
            assert series(rollup) == series(raw), where
            if analysis == "average":  # a quotient: rounded to 28 digits, then to a double
                for got, want in zip(series(rollup), wanted(analysis, target), strict=True):
                    assert (got is None) == (want is None), where
                    assert want is None or math.isclose(got, want, rel_tol=1e-15), where
            else:
                assert series(rollup) == wanted(analysis, target), where
        for analysis in ("median", "percentile"):  # raw-only analyses
            extra = {"percentile": 90} if analysis == "percentile" else {}
            for target in TARGETS:
                got = query(keys, analysis, target_property=target, **params, **extra)
                assert series(got) == wanted(analysis, target), (analysis, target, interval)


def strictly_equal(a, b) -> bool:
    return isinstance(a, bool) == isinstance(b, bool) and a == b


# --- the property test ---------------------------------------------------------------

NUMBER = st.one_of(
    st.sampled_from(EDGE_NUMBERS),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**80), max_value=2**80),
)
SECONDS = int((END - START).total_seconds())


@st.composite
def an_event(draw) -> dict:
    received = START + dt.timedelta(seconds=draw(st.integers(2 * 3600, SECONDS - 1)))
    # A late event, one on time, or one stamped ahead (within the hour's allowed skew).
    skew = draw(st.sampled_from([0, -3600, 1, 1800, 3600]) | st.integers(-7200, 3600))
    properties: dict = {}
    if draw(st.booleans()):
        properties["x"] = draw(NUMBER)
    shape = draw(st.sampled_from(["nested", "flat", "none"]))
    if shape == "nested":
        properties["a"] = {"b": draw(NUMBER)}
    elif shape == "flat":
        properties["a.b"] = draw(NUMBER)
    if draw(st.booleans()):
        properties["flag"] = draw(st.sampled_from([True, False, 1, 0, 1.0, -0.0]))
    return {
        "timestamp": received + dt.timedelta(seconds=skew),
        "received_at": received,
        "distinct_id": draw(st.sampled_from([None, "u1", "u2", "u3"])),
        "properties": properties,
    }


EDGE_SET = [  # every edge value, flat and nested, each stamped an hour ahead of receipt
    {
        "timestamp": START + dt.timedelta(hours=3 * n, minutes=50 + 60),
        "received_at": START + dt.timedelta(hours=3 * n, minutes=50),
        "distinct_id": f"u{n % 3}",
        "properties": {
            "x": value,
            **({"a.b": value} if n % 2 else {"a": {"b": value}}),
            "flag": [True, 1, False, 0][n % 4],
        },
    }
    for n, value in enumerate(EDGE_NUMBERS, start=1)
]


@pytest.fixture
def wide_scans(settings):
    settings.AD_HOC_MAX_DAYS = 365  # the raw scan of the yearly interval reads a year


def test_rollups_and_raw_scans_agree_for_every_analysis_and_interval(
    spark, topic_prefix, project_keys, wide_scans
) -> None:
    @hypothesis_settings(
        max_examples=4,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )
    @example(events=EDGE_SET)
    @given(events=st.lists(an_event(), min_size=1, max_size=12))
    def agree(events: list[dict]) -> None:
        name = f"e{uuid.uuid4().hex[:10]}"
        produced = [{**e, "name": name} for e in events]
        produce(topic_prefix, project_keys["project_id"], produced)
        assert run_aggregation().events_written == len(events)
        assert_paths_agree(project_keys, name, produced)
        # Filters are type-strict: true is not 1, and 1 is 1.0.
        for value in (True, 1):
            eq = [{"property_name": "flag", "operator": "eq", "property_value": value}]
            count = query(project_keys, "count", event_collection=name, timeframe=DAYS, filters=eq)
            assert count == sum(
                any(strictly_equal(v, value) for v in values_at(e, "flag")) for e in events
            ), value

    agree()


# --- one focused test per reported case (each fails on the code before issue 12) -------


def aggregate(prefix: str, keys: dict, name: str, events: list[dict]) -> list[dict]:
    produced = [{**e, "name": name} for e in events]
    produce(prefix, keys["project_id"], produced)
    assert run_aggregation().events_written == len(events)
    return produced


def at(hour: int, **fields) -> dict:
    return {"timestamp": START + dt.timedelta(hours=hour), **fields}


def test_sums_beyond_decimal_38_9_are_exact_on_both_paths(spark, topic_prefix, project_keys):
    """Old code: 1e30 was left out of the rollups and 0.1234567890123 rounded to 9
    places, so the rollup sum was 123456789012345678901234567890.623456789 while the
    raw scan said about 1.1234567890123457e+30."""
    values = [1e30, 0.1234567890123, 123456789012345678901234567890.5, 2**64 + 1]
    name = "huge"
    aggregate(topic_prefix, project_keys, name, [at(3, properties={"x": v}) for v in values])
    exact_sum = sum((Fraction(repr(v) if isinstance(v, float) else v) for v in values), Fraction())
    for analysis in ("sum", "average", "minimum", "maximum"):
        rollup, raw = both_paths(
            project_keys, analysis, event_collection=name, timeframe=DAYS, target_property="x"
        )
        assert rollup == raw, analysis
    rollup, _ = both_paths(
        project_keys, "sum", event_collection=name, timeframe=DAYS, target_property="x"
    )
    assert rollup == float(exact_sum)


def test_an_overflowing_sum_stays_exact_and_average_answers(spark, topic_prefix, project_keys):
    """Old code: 6e28 + 6e28 overflowed decimal(38, 9) in the merge, which nulled the
    bucket's sum for good while count kept growing: sum answered 0 and average 500."""
    name = "overflow"
    aggregate(topic_prefix, project_keys, name, [at(3, properties={"x": 6 * 10**28})])
    aggregate(topic_prefix, project_keys, name, [at(3, properties={"x": 6 * 10**28})])
    aggregate(topic_prefix, project_keys, name, [at(4, properties={"x": 1})])
    for analysis, wanted in (("sum", 12 * 10**28 + 1), ("average", float(4 * 10**28))):
        rollup, raw = both_paths(
            project_keys, analysis, event_collection=name, timeframe=DAYS, target_property="x"
        )
        assert rollup == raw == wanted, analysis


def test_a_maximum_of_1e308_is_kept(spark, topic_prefix, project_keys):
    """Old code: 1e308 did not fit decimal(38, 9), so the rollups' maximum was 5."""
    name = "max"
    aggregate(
        topic_prefix,
        project_keys,
        name,
        [
            at(3, properties={"x": 1e308}),
            at(5, properties={"x": 5}),
            at(6, properties={"x": -1e308}),
        ],
    )
    for analysis, wanted in (("maximum", 10**308), ("minimum", -(10**308)), ("sum", 5)):
        for interval in (None, "hourly", "daily"):
            extra = {"interval": interval} if interval else {}
            rollup, raw = both_paths(
                project_keys,
                analysis,
                event_collection=name,
                timeframe=DAYS,
                target_property="x",
                **extra,
            )
            assert rollup == raw, (analysis, interval)
            if interval is None:
                assert rollup == wanted, analysis


def test_a_flat_dotted_key_is_the_dotted_path_for_rollups_and_filters(
    spark, topic_prefix, project_keys
):
    """Old code: the rollups summed {"a.b": 5} with {"a": {"b": 7}} (12), but filters and
    the raw scan saw only the nested one (a.b eq 5 matched nothing; raw sum 7)."""
    name = "dotted"
    aggregate(
        topic_prefix,
        project_keys,
        name,
        [at(3, properties={"a.b": 5}), at(4, properties={"a": {"b": 7}})],
    )
    rollup, raw = both_paths(
        project_keys, "sum", event_collection=name, timeframe=DAYS, target_property="a.b"
    )
    assert rollup == raw == 12
    flat = [{"property_name": "a.b", "operator": "eq", "property_value": 5}]
    assert query(project_keys, "count", event_collection=name, timeframe=DAYS, filters=flat) == 1
    # One event may not give one path two values: refused, naming the path.
    response = Client().post(
        "/api/v1/events",
        data=json.dumps({"name": name, "properties": {"a.b": 1, "a": {"b": 2}}}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {project_keys['write_key']}",
    )
    assert response.status_code == 400, response.content
    assert "properties.a.b" in response.content.decode()


def test_an_event_stamped_ahead_counts_in_every_bucket_and_the_raw_scan(
    spark, topic_prefix, project_keys
):
    """Old code: stamped in the next hour (within the allowed skew), the event was in
    today's daily rollup but in no hourly bucket the query reads, and the raw scan,
    which ends now, missed it: 1 / 0 / 0 (or 0 everywhere near midnight)."""
    name = "ahead"
    now = dt.datetime.now(dt.UTC)
    next_hour = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    ahead = next_hour + dt.timedelta(milliseconds=1)
    assert ahead - now <= dt.timedelta(seconds=3600)  # within max_future_skew_seconds
    aggregate(
        topic_prefix,
        project_keys,
        name,
        [{"timestamp": ahead, "received_at": now, "properties": {"x": 2}}],
    )
    frame = "this_1_days"
    daily, raw = both_paths(project_keys, "count", event_collection=name, timeframe=frame)
    hourly = query(project_keys, "count", event_collection=name, timeframe=frame, interval="hourly")
    assert isinstance(hourly, list)  # an interval query answers a series
    assert (daily, raw, sum(point["value"] for point in hourly)) == (1, 1, 1)
    total, raw_total = both_paths(
        project_keys, "sum", event_collection=name, timeframe=frame, target_property="x"
    )
    assert total == raw_total == 2


def test_filters_are_type_strict_and_exists_takes_a_boolean(spark, topic_prefix, project_keys):
    """Old code: eq true matched 1 too (2, not 1), and exists accepted any value by its
    truthiness (200, not 400)."""
    name = "strict"
    aggregate(
        topic_prefix,
        project_keys,
        name,
        [
            at(3, properties={"flag": True}),
            at(4, properties={"flag": 1}),
            at(5, properties={"flag": 1.0}),
            at(6, properties={"flag": "true"}),
        ],
    )
    for value, wanted in ((True, 1), (1, 2), ("true", 1), (False, 0)):
        eq = [{"property_name": "flag", "operator": "eq", "property_value": value}]
        count = query(project_keys, "count", event_collection=name, timeframe=DAYS, filters=eq)
        assert count == wanted, value
    within = [{"property_name": "flag", "operator": "in", "property_value": [True]}]
    assert query(project_keys, "count", event_collection=name, timeframe=DAYS, filters=within) == 1
    response = Client().get(
        f"/3.0/projects/{project_keys['project_id']}/queries/count",
        {
            "event_collection": name,
            "timeframe": json.dumps(DAYS),
            "filters": json.dumps(
                [{"property_name": "flag", "operator": "exists", "property_value": "yes"}]
            ),
        },
        HTTP_AUTHORIZATION=project_keys["read_key"],
    )
    assert response.status_code == 400
    assert "filters[0].property_value" in response.content.decode()
