"""The read side's one door: Keen's analyses answered for a project, cached.

Views (native and Keen-compatible) and the metric browser (``movingavg.admin``) call
``query_answer``; it raises only ``insights.errors`` (QueryError: a parameter to
fix, or a query to narrow), never an HTTP error.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from .answers import answer
from .cache import cached_answer
from .compound import answer_funnel, answer_multi_analysis, parse_funnel, parse_multi_analysis
from .queries import Params, parse_query
from .reads import Reads


def query_answer(
    *,
    project_id: str,
    analysis: str,
    params: Params,
    max_age: float | None,
    now: dt.datetime | None = None,
) -> object:
    """Keen's ``result`` of ``analysis`` (a single analysis, ``multi_analysis`` or
    ``funnel``) with Keen-style ``params`` over ``project_id``'s events.

    ``max_age``: the seconds a cached result may be old (None: any result of the
    project's current data; 0: recompute, and do not cache). ``now`` (default: the
    clock) resolves relative timeframes. Every parameter is checked before any read;
    QueryError names the one that is wrong, or the bound a read would pass.
    """
    now = now or timezone.now()
    if analysis == "funnel":
        funnel = parse_funnel(params, now=now)
        return cached_answer(
            project_id=project_id,
            query=funnel,
            max_age=max_age,
            compute=lambda: answer_funnel(project_id=project_id, query=funnel),
        )
    if analysis == "multi_analysis":
        multi = parse_multi_analysis(params, now=now)
        return cached_answer(
            project_id=project_id,
            query=multi,
            max_age=max_age,
            compute=lambda: answer_multi_analysis(query=multi, reads=Reads(project_id=project_id)),
        )
    query = parse_query(analysis, params, now=now)
    return cached_answer(
        project_id=project_id,
        query=query,
        max_age=max_age,
        compute=lambda: answer(query=query, reads=Reads(project_id=project_id)),
    )
