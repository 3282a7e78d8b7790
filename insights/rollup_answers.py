"""Rollup answers: Keen's analyses from the stored rollups, when ``plan_of`` says they
answer exactly. Unique users across several buckets come from the bucket users (their
union), so they stay exact; the statistics follow the raw scan's arithmetic
(``spark.exact``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from spark import exact
from spark.schema import EVENTS_METRIC, PROPERTY_PREFIX, Granularity

from .queries import Plan, Query, local_groups
from .reads import Reads
from .series import series_of
from .timeframes import Timeframe, buckets, shift


def metric_of(query: Query) -> str:
    """The rollup metric holding ``query``'s numbers."""
    if query.analysis in ("count", "count_unique"):
        return EVENTS_METRIC
    return f"{PROPERTY_PREFIX}{query.target_property}"


def combine(analysis: str, rows: list[dict]) -> int | float | str | None:
    """One analysis over rollup rows, in the raw scan's arithmetic (``spark.exact``)."""
    if analysis == "count":
        return sum(row["count"] or 0 for row in rows)
    values = [row for row in rows if row["count"]]
    if analysis == "sum":
        return exact.json_number(exact.total(row["sum"] or Decimal(0) for row in values))
    if not values:
        return None
    if analysis == "minimum":
        return exact.json_number(exact.smallest(r["min"] for r in values if r["min"] is not None))
    if analysis == "maximum":
        return exact.json_number(exact.largest(r["max"] for r in values if r["max"] is not None))
    total = exact.total(row["sum"] or Decimal(0) for row in values)
    return exact.mean(total, sum(row["count"] for row in values))


def answer_regrouped(*, query: Query, plan: Plan, reads: Reads) -> object:
    """Keen's ``result`` for buckets no rollup stores (weeks, years, a time zone's days),
    regrouping the stored buckets of ``plan.granularity`` that tile them; unique users
    are the union of each stored bucket's users (days for months)."""
    stored = plan.granularity
    assert stored is not None  # plan_of: a regrouped plan names the granularity it reads
    groups = local_groups(query)
    values: list[int | float | str | None]
    if query.analysis == "count_unique":
        level = Granularity.DAY if stored == Granularity.MONTH else stored
        values = [
            len(
                reads.bucket_users(
                    name=query.event_collection,
                    granularity=level,
                    buckets=stored_buckets(start, stop, level),
                )
            )
            for start, stop in groups
        ]
    else:
        rows = reads.rollup_rows(
            name=query.event_collection,
            metric=metric_of(query),
            granularity=stored,
            start=groups[0][0],
            end=groups[-1][1],
        )
        values = [
            combine(query.analysis, [row for at, row in rows.items() if start <= at < stop])
            for start, stop in groups
        ]
    if query.granularity is None:
        return values[0]
    return series_of(query, [(a, b, v) for (a, b), v in zip(groups, values, strict=True)])


def stored_buckets(start: dt.datetime, stop: dt.datetime, granularity: str) -> list[dt.datetime]:
    """The UTC bucket starts of ``granularity`` from ``start`` (a bucket start) to ``stop``."""
    starts = []
    while start < stop:
        starts.append(start)
        start = shift(start, granularity, 1)
    return starts


def answer_from_rollups(*, query: Query, plan: Plan, reads: Reads) -> object:
    """Keen's ``result`` from the UTC rollups of ``plan.granularity``."""
    granularity = plan.granularity
    assert granularity is not None  # plan_of: a rollup plan names the granularity it reads
    starts = buckets(query.timeframe, granularity)
    if not starts:
        return [] if query.granularity else 0

    def users(bucket_starts: list[dt.datetime], level: str) -> int:
        found = reads.bucket_users(
            name=query.event_collection, granularity=level, buckets=bucket_starts
        )
        return len(found)

    if query.analysis == "count_unique" and query.granularity is None:
        return users(starts, granularity)
    rows = reads.rollup_rows(
        name=query.event_collection,
        metric=metric_of(query),
        granularity=granularity,
        start=starts[0],
        end=shift(starts[-1], granularity, 1),
    )
    if query.granularity is None:
        return combine(query.analysis, list(rows.values()))
    values = []
    for start in starts:
        stop = shift(start, granularity, 1)
        if query.analysis != "count_unique":
            value = combine(query.analysis, [rows[start]] if start in rows else [])
        elif granularity == Granularity.MONTH:
            value = users(buckets(Timeframe(start, stop), Granularity.DAY), Granularity.DAY)
        else:
            value = (rows.get(start) or {}).get("uniques") or 0
        values.append((start, stop, value))
    return series_of(query, values)
