"""Keen's compound analyses: ``multi_analysis`` (several analyses over one event
collection and timeframe) and ``funnel`` (actors who did each step after the previous).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from events.json_parsing import decode_json

from .answers import answer
from .errors import QueryError
from .queries import Params, Query, event_collection_of, parse_filters, parse_query
from .raw_answers import MISSING, event_view, lookup, matches
from .reads import Reads
from .timeframes import Timeframe, resolve_timeframe

MAX_PARTS = 20


def _json(value: object, field: str) -> object:
    if isinstance(value, str):
        try:
            return decode_json(value)
        except ValueError:
            raise QueryError(field, "is not valid JSON") from None
    return value


@dataclass(frozen=True)
class MultiAnalysis:
    parts: tuple[tuple[str, Query], ...]


def parse_multi_analysis(params: Params, *, now: dt.datetime) -> MultiAnalysis:
    """``analyses``: ``{label: {analysis_type, target_property?, percentile?}}``; every
    other parameter (collection, timeframe, interval, filters, ...) is shared."""
    analyses = _json(params.get("analyses"), "analyses")
    if not isinstance(analyses, dict) or not analyses:
        raise QueryError("analyses", "is required: {label: {analysis_type, target_property}}")
    if len(analyses) > MAX_PARTS:
        raise QueryError("analyses", f"at most {MAX_PARTS} analyses")
    shared = {k: v for k, v in params.items() if k not in ("analyses", "target_property")}
    parts = []
    for label, spec in analyses.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("analysis_type"), str):
            raise QueryError(f"analyses.{label}", "needs an analysis_type")
        own = {**shared, **{k: v for k, v in spec.items() if k != "analysis_type"}}
        try:
            parts.append((label, parse_query(spec["analysis_type"], own, now=now)))
        except QueryError as exc:
            raise QueryError(f"analyses.{label}.{exc.field}", exc.message) from None
    if parts[0][1].group_by:
        raise QueryError("group_by", "is not supported with multi_analysis yet")
    _check_same_buckets(parts, analyses)
    return MultiAnalysis(tuple(parts))


_SHARED = (("tz", "timezone"), ("granularity", "interval"), ("timeframe", "timeframe"))


def _check_same_buckets(parts: list[tuple[str, Query]], analyses: dict) -> None:
    """Every analysis of a multi_analysis must have the same timeframe, interval and
    timezone (their results are zipped bucket by bucket); QueryError names the
    analysis that sets its own (``analyses.<label>.interval``)."""
    first_label, first = parts[0]
    for label, part in parts[1:]:
        for attribute, key in _SHARED:
            if getattr(part, attribute) == getattr(first, attribute):
                continue
            first_is_own = key in analyses[first_label] and key not in analyses[label]
            culprit = first_label if first_is_own else label
            raise QueryError(
                f"analyses.{culprit}.{key}",
                f"differs from the other analyses; every analysis of a multi_analysis has "
                f"the same {key} (give it once, for all)",
            )


def answer_multi_analysis(*, query: MultiAnalysis, reads: Reads) -> object:
    """``{label: value}``; with an interval, ``{timeframe, value: {label: value}}`` per
    bucket. Labels that need the same rows share one read or scan (``reads``)."""
    results = {label: answer(query=part, reads=reads) for label, part in query.parts}
    first = query.parts[0][1]
    if first.granularity is None:
        return results
    labels = list(results)
    return [
        {
            "timeframe": points[0]["timeframe"],
            "value": {label: point["value"] for label, point in zip(labels, points, strict=True)},
        }
        for points in zip(*(results[label] for label in labels), strict=True)
    ]


@dataclass(frozen=True)
class Funnel:
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Step:
    event_collection: str
    actor_property: str
    timeframe: Timeframe
    filters: tuple


def parse_funnel(params: Params, *, now: dt.datetime) -> Funnel:
    """``steps``: a list of ``{event_collection, actor_property, timeframe?, filters?}``;
    a step without a timeframe uses the query's."""
    steps = _json(params.get("steps"), "steps")
    if not isinstance(steps, list) or not steps:
        raise QueryError("steps", "is required: a list of {event_collection, actor_property}")
    if len(steps) > MAX_PARTS:
        raise QueryError("steps", f"at most {MAX_PARTS} steps")
    parsed = []
    for index, step in enumerate(steps):
        field = f"steps[{index}]"
        if not isinstance(step, dict):
            raise QueryError(field, "must be an object")
        for name in ("event_collection", "actor_property"):
            if not isinstance(step.get(name), str) or not step[name]:
                raise QueryError(f"{field}.{name}", "is required")
        event_collection_of(step["event_collection"], field=f"{field}.event_collection")
        frame = step.get("timeframe", params.get("timeframe"))
        try:
            timeframe = resolve_timeframe(frame, now=now)
            filters = tuple(parse_filters(step.get("filters")))
        except QueryError as exc:
            raise QueryError(f"{field}.{exc.field}", exc.message) from None
        parsed.append(Step(step["event_collection"], step["actor_property"], timeframe, filters))
    return Funnel(tuple(parsed))


def answer_funnel(*, query: Funnel, reads: Reads) -> list[int]:
    """How many actors did step 1, then step 2 at or after their step 1, and so on.

    Streams each step's scan (only the actors' first times are held)."""
    reached: dict[str, str] | None = None  # actor -> earliest time at the previous step
    counts = []
    for step in query.steps:
        first_time: dict[str, str] = {}
        rows = reads.stream(name=step.event_collection, timeframe=step.timeframe)
        for view in map(event_view, rows):
            if not matches(view, list(step.filters)):
                continue
            actor = lookup(view, step.actor_property)
            if actor is MISSING or actor is None:
                continue
            actor = json.dumps(actor, sort_keys=True)
            when = view["keen"]["timestamp"]
            if reached is not None and (actor not in reached or when < reached[actor]):
                continue
            if actor not in first_time or when < first_time[actor]:
                first_time[actor] = when
        counts.append(len(first_time))
        reached = first_time
    return counts
