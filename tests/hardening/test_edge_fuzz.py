"""Hypothesis fuzzing of the three normalizers and of the query parser, with one
property: never a 5xx (never an exception other than the documented validation
error), and a 2xx means counted (every event reported accepted was appended).

Inputs lean on the edges that used to break: timestamps at the calendar's ends,
``sentAt`` and ``timestamp`` far apart, huge and non-finite numbers, zone folders,
relative timeframes past year 1, non-string parameters, very long names, lone
surrogates. Each test is bounded by ``max_examples`` and runs in well under a minute.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NOW = dt.datetime(2026, 11, 30, 12, 34, 56, 789000, tzinfo=dt.UTC)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FUZZ_HTTP = settings(FUZZ, max_examples=100)

# --- building blocks --------------------------------------------------------------

text = st.text(max_size=12)
unicode_text = st.text(st.characters(codec=None, categories=None), max_size=8)  # surrogates
edge_ints = st.sampled_from([0, -1, 1, 2**31, -(2**63), 2**64, 10**30, 10**300])
edge_floats = st.sampled_from([0.0, -0.0, 1e-320, 1.5, 1e11, 1e15, 1e20, 1e308, -1e308])
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), edge_ints, st.floats(), edge_floats, text
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(text, children, max_size=3)
    ),
    max_leaves=10,
)
EDGE_TIMES = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-10:00",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:00:00-10:00",
    "2026-11-30T12:00:00Z",
    "2026-11-30T12:00:00",
    "1999-12-31T23:59:59Z",
    "not a time",
    "",
]
times = st.one_of(
    st.sampled_from(EDGE_TIMES),
    st.datetimes(
        timezones=st.sampled_from(
            [dt.UTC, dt.timezone(dt.timedelta(hours=14)), dt.timezone(dt.timedelta(hours=-10))]
        )
    ).map(dt.datetime.isoformat),
    st.integers(),
    edge_ints,
    st.floats(),
    edge_floats,
    json_values,
)
names = st.one_of(
    st.just("signup"), text, unicode_text, st.just("n" * 256), st.integers(), st.none()
)
properties = st.one_of(st.dictionaries(text, json_values, max_size=4), json_values)


def _optional(**fields) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({}, optional=fields)


native_events = _optional(
    name=names,
    event_id=st.one_of(text, st.integers(), st.just("i" * 200)),
    category=st.one_of(st.sampled_from(["web", "mobile", "server", "other"]), text),
    distinct_id=names,
    timestamp=times,
    properties=properties,
    context=properties,
    extra=json_values,
)
segment_messages = _optional(
    type=st.one_of(
        st.sampled_from(["track", "identify", "page", "screen", "group", "alias"]), text
    ),
    userId=st.one_of(names, edge_ints),
    anonymousId=names,
    event=names,
    messageId=st.one_of(text, st.integers()),
    timestamp=times,
    originalTimestamp=times,
    sentAt=times,
    properties=properties,
    traits=properties,
    context=properties,
    groupId=st.one_of(names, edge_ints),
    previousId=names,
    name=names,
    category=names,
)
edge_times = st.sampled_from(EDGE_TIMES)
# Both clocks of a message at the edges, so the skew correction meets them often.
segment_edges = st.fixed_dictionaries(
    {
        "type": st.just("track"),
        "event": st.just("e"),
        "userId": st.just("u"),
        "timestamp": edge_times,
        "sentAt": edge_times,
    },
)
segment_messages = st.one_of(segment_messages, segment_edges)
keen_events = st.one_of(
    st.dictionaries(text, json_values, max_size=4),
    _optional(
        keen=st.one_of(_optional(timestamp=times, id=names), json_values),
        user=st.one_of(_optional(id=st.one_of(names, edge_ints)), json_values),
        user_id=names,
        price=st.one_of(edge_ints, edge_floats),
    ),
    json_values,
)
collections = st.one_of(
    st.just("purchases"), text, unicode_text, st.just("c" * 65536), st.just("a.b"), st.just("$x")
)


def _check_outcome(normalize, raw, **options) -> None:
    """The normalizer either refuses with EventValidationError naming fields, or gives
    an envelope that can be appended (a JSON record, UTF-8 keys) and read back as is."""
    from events.envelope import Envelope, EventError, EventValidationError
    from events.limits import Limits

    limits = Limits()
    try:
        envelope = normalize(
            raw, project_id="p1", received_at=NOW, index=0, limits=limits, **options
        )
    except EventValidationError as exc:
        errors: list[EventError] | None = exc.errors
    else:
        errors = None
    if errors is not None:
        assert errors, "a validation error lists at least one problem"
        for error in errors:
            assert isinstance(error.field, str)
            assert error.field
            assert isinstance(error.message, str)
            assert error.message
        return
    from events.forwarding import encode_envelope

    encoded = encode_envelope(envelope).value  # what the stream stores and Kafka gets
    assert Envelope.from_record(json.loads(encoded)) == envelope
    assert envelope.name
    assert envelope.event_id
    envelope.event_id.encode("utf-8")  # the Kafka record key
    lower = limits.min_timestamp
    upper = NOW + dt.timedelta(seconds=limits.max_future_skew_seconds)
    assert lower <= envelope.timestamp <= upper


@FUZZ
@given(raw=st.one_of(native_events, json_values))
def test_native_normalizer_only_validates(raw) -> None:
    from events.normalize import normalize_native

    _check_outcome(normalize_native, raw)


@FUZZ
@given(
    raw=st.one_of(segment_messages, json_values),
    call_type=st.sampled_from([None, "track", "identify", "page", "screen", "group", "alias"]),
    batch=st.one_of(st.none(), _optional(sentAt=times, context=properties)),
)
def test_segment_normalizer_only_validates(raw, call_type, batch) -> None:
    from events.normalize import normalize_segment

    _check_outcome(normalize_segment, raw, call_type=call_type, batch=batch)


@FUZZ
@given(raw=keen_events, collection=collections, sdk=st.one_of(st.none(), text))
def test_keen_normalizer_only_validates(raw, collection, sdk) -> None:
    from events.normalize import normalize_keen

    _check_outcome(normalize_keen, raw, collection=collection, sdk=sdk)


# --- the query parser ---------------------------------------------------------------

relative = st.builds(
    "{}_{}_{}".format,
    st.sampled_from(["this", "previous"]),
    st.one_of(st.integers(0, 999999), st.sampled_from([2024, 2025, 2026, 2027, 999999])),
    st.sampled_from(["minutes", "hours", "days", "weeks", "months", "years"]),
)
absolute = _optional(start=times, end=times)
timeframes = st.one_of(
    relative,
    absolute,
    absolute.map(json.dumps),
    st.sampled_from(["today", "yesterday", "this_month", "previous_year", "this_0_days"]),
    json_values,
)
zones = st.one_of(
    st.sampled_from(
        [
            "UTC",
            "US/Pacific",
            "Europe/Paris",
            "Pacific/Kiritimati",
            "Pacific/Pago_Pago",
            "America",
            "Europe",
            "Etc",
            "../../etc/passwd",
            "",
            "0",
            "-36000",
            "50400",
            "86400",
        ]
    ),
    st.integers(-90000, 90000),
    st.floats(),
    json_values,
)
intervals = st.one_of(st.sampled_from(["minutely", "hourly", "daily", "monthly"]), json_values)
numbers_or_junk = st.one_of(
    st.integers(-5, 3000), st.floats(), edge_ints, edge_floats, text, json_values
)
query_params = _optional(
    event_collection=collections,
    target_property=st.one_of(
        st.just("price"), text, unicode_text, st.just("p" * 3000), json_values
    ),
    timeframe=timeframes,
    timezone=zones,
    interval=intervals,
    kind=st.one_of(st.sampled_from(["sma", "ema", "wma", "cma"]), json_values),
    window=numbers_or_junk,
    limit=numbers_or_junk,
    percentile=numbers_or_junk,
    group_by=st.one_of(st.just("plan"), st.lists(text, max_size=2), json_values),
    order_by=st.one_of(st.just("result"), json_values),
    max_age=numbers_or_junk,
)
ANALYSES = [
    "count",
    "count_unique",
    "sum",
    "average",
    "minimum",
    "maximum",
    "median",
    "percentile",
    "select_unique",
    "multi_analysis",
    "funnel",
    "nope",
]
analysis_specs = st.dictionaries(
    st.sampled_from(["a", "b"]),
    st.one_of(
        _optional(
            analysis_type=st.sampled_from(ANALYSES),
            target_property=text,
            interval=intervals,
            timeframe=timeframes,
            timezone=zones,
        ),
        json_values,
    ),
    max_size=2,
)
funnel_steps = st.lists(
    st.one_of(
        _optional(
            event_collection=collections,
            actor_property=st.one_of(text, json_values),
            timeframe=timeframes,
        ),
        json_values,
    ),
    max_size=3,
)


def _parse(analysis: str, params: dict):
    from insights.compound import parse_funnel, parse_multi_analysis
    from insights.queries import parse_query

    if analysis == "multi_analysis":
        return parse_multi_analysis(params, now=NOW)
    if analysis == "funnel":
        return parse_funnel(params, now=NOW)
    return parse_query(analysis, params, now=NOW)


def _check_query(query) -> None:
    """A parsed query can be planned without error: its buckets exist and lie in the
    supported calendar range."""
    from insights.compound import Funnel, MultiAnalysis
    from insights.queries import local_groups
    from insights.timeframes import EARLIEST, LATEST

    if isinstance(query, Funnel):
        frames = [step.timeframe for step in query.steps]
    else:
        parts = [part for _, part in query.parts] if isinstance(query, MultiAnalysis) else [query]
        frames = []
        for part in parts:
            assert part.needs_raw_events in (True, False)
            for start, stop in local_groups(part):
                assert start < stop
            frames.append(part.timeframe)
        if isinstance(query, MultiAnalysis):
            assert len({len(local_groups(part)) for part in parts}) == 1
    for frame in frames:
        assert EARLIEST <= frame.start < frame.end <= LATEST


@FUZZ
@given(
    analysis=st.sampled_from(ANALYSES),
    params=query_params,
    analyses=analysis_specs,
    steps=funnel_steps,
)
def test_the_query_parser_only_raises_query_errors(analysis, params, analyses, steps) -> None:
    from insights.timeframes import QueryError

    params = {**params, "analyses": analyses, "steps": steps}
    try:
        query = _parse(analysis, params)
    except QueryError as exc:
        problem = exc
    else:
        _check_query(query)
        return
    assert problem.field
    assert problem.message


# --- through the HTTP doors (Django test client; the real Redis streams) ----------

http = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "cassandra"])]


@pytest.mark.parametrize("door", ["native", "segment"])
@pytest.mark.integration
@pytest.mark.django_db(databases=["default", "cassandra"])
def test_ingestion_never_5xx_and_2xx_means_appended(project_keys, private_queue, door) -> None:
    """Mixed batches of fuzzed events: never a 5xx; on a 2xx, exactly the events not
    reported rejected are in the ingestion streams (the durable append), with their ids."""
    from django.test import Client

    from tests.events.stream_tap import appended as stream_records

    client = Client()
    statuses: Counter = Counter()
    basic = base64.b64encode(f"{project_keys['write_key']}:".encode()).decode()
    url, auth, items = {
        "native": ("/api/v1/events", f"Bearer {project_keys['write_key']}", native_events),
        "segment": ("/v1/batch", f"Basic {basic}", segment_messages),
    }[door]

    @FUZZ_HTTP
    @given(batch=st.lists(items, min_size=1, max_size=4), sent_at=st.one_of(st.none(), times))
    def exercise(batch, sent_at) -> None:
        body: dict = {"batch": batch}
        if door == "segment" and sent_at is not None:
            body["sentAt"] = sent_at
        before = stream_records()
        response = client.post(url, json.dumps(body), "application/json", HTTP_AUTHORIZATION=auth)
        assert response.status_code < 500, response.content[:500]
        statuses[response.status_code // 100] += 1
        appended = [r for key, r in stream_records().items() if key not in before]
        if response.status_code >= 300:
            assert appended == []
            return
        answer = response.json()
        rejected = {error["index"] for error in answer.get("rejected", [])}
        accepted = [i for i in range(len(batch)) if i not in rejected]
        assert len(appended) == len(accepted)
        appended_ids = sorted(r["event_id"] for r in appended)
        if door == "native":
            assert appended_ids == sorted(answer["event_ids"])
        else:
            given_ids = {batch[i].get("messageId") for i in accepted}
            given_ids = {i for i in given_ids if isinstance(i, str) and i}
            assert given_ids <= set(appended_ids)

    exercise()
    assert statuses[2], statuses  # both outcomes were exercised
    assert statuses[4], statuses


@pytest.mark.integration
@pytest.mark.django_db(databases=["default", "cassandra"])
def test_query_views_never_5xx(project_keys) -> None:
    """Fuzzed parameters (POST bodies and query strings) on both query doors: a 2xx
    with a result, or a 4xx in the door's error shape; never a 5xx."""
    from django.test import Client

    client = Client()
    statuses: Counter = Counter()
    keen_url = f"/3.0/projects/{project_keys['project_id']}/queries/"

    @FUZZ_HTTP
    @given(
        analysis=st.sampled_from(ANALYSES),
        params=query_params,
        analyses=analysis_specs,
        steps=funnel_steps,
        door=st.sampled_from(["keen GET", "keen POST", "native POST"]),
    )
    def exercise(analysis, params, analyses, steps, door) -> None:
        params = {"event_collection": "purchases", "timeframe": "this_2_days", **params}
        if analysis == "multi_analysis":
            params["analyses"] = analyses
        if analysis == "funnel":
            params["steps"] = steps
        try:
            body = json.dumps(params, allow_nan=False)
        except ValueError:
            body = None  # NaN is not JSON: such bodies are refused by the reader
        if door == "keen GET":
            text = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
            query = {k: v.encode("utf-8", "surrogatepass") for k, v in text.items()}
            response = client.get(
                keen_url + analysis, query, HTTP_AUTHORIZATION=project_keys["read_key"]
            )
        elif body is None:
            return
        elif door == "keen POST":
            response = client.post(
                keen_url + analysis,
                body,
                "application/json",
                HTTP_AUTHORIZATION=project_keys["read_key"],
            )
        else:
            response = client.post(
                f"/api/v1/insights/{analysis}",
                body,
                "application/json",
                HTTP_AUTHORIZATION=f"Bearer {project_keys['read_key']}",
            )
        assert response.status_code < 500, response.content[:500]
        statuses[response.status_code // 100] += 1
        answer = response.json()
        if response.status_code == 200:
            assert "result" in answer
        elif door.startswith("keen"):
            assert set(answer) == {"message", "error_code"}
        else:
            assert set(answer) == {"error"}

    exercise()
    assert statuses[2], statuses  # both outcomes were exercised
    assert statuses[4], statuses
