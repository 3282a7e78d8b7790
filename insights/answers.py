"""One query's answer, by its plan: the rollups, the hourly rollups in a time zone, or
the raw events."""

from __future__ import annotations

from .queries import Query, Source
from .raw_answers import answer_from_raw_events
from .reads import Reads
from .rollup_answers import answer_from_hours, answer_from_rollups


def answer(*, query: Query, reads: Reads) -> object:
    """Keen's ``result`` for ``query``: from the rollups when they answer it exactly."""
    plan = query.plan
    if plan.source is Source.RAW_EVENTS:
        return answer_from_raw_events(query=query, reads=reads)
    if plan.source is Source.HOURLY_ROLLUPS:
        return answer_from_hours(query=query, reads=reads)
    return answer_from_rollups(query=query, plan=plan, reads=reads)
