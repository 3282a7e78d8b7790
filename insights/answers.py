"""One query's answer, by its plan: the rollups, stored buckets regrouped (weeks, years,
a time zone's buckets), or the raw events."""

from __future__ import annotations

from .queries import Query, Source
from .raw_answers import answer_from_raw_events
from .reads import Reads
from .rollup_answers import answer_from_rollups, answer_regrouped


def answer(*, query: Query, reads: Reads) -> object:
    """Keen's ``result`` for ``query``: from the rollups when they answer it exactly."""
    plan = query.plan
    if plan.source is Source.RAW_EVENTS:
        return answer_from_raw_events(query=query, reads=reads)
    if plan.source is Source.REGROUPED_ROLLUPS:
        return answer_regrouped(query=query, plan=plan, reads=reads)
    return answer_from_rollups(query=query, plan=plan, reads=reads)
