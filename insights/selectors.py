"""The read side's one door: Keen's analyses answered for a project, cached.

Views (native and Keen-compatible) and the metric browser (``movingavg.admin``) call
``query_answer``; it raises only ``insights.errors`` (QueryError: a parameter to
fix, or a query to narrow), never an HTTP error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .answers import answer
from .cache import cached_answer
from .compound import answer_funnel, answer_multi_analysis, parse_funnel, parse_multi_analysis
from .extraction import EXTRACTION_PARAMETERS, extract, parse_extraction
from .models import ExtractionJob
from .queries import Params, Query, Source, parse_query
from .reads import Reads

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


def query_answer(
    *,
    project_id: str,
    analysis: str,
    params: Params,
    max_age: float | None,
    now: dt.datetime | None = None,
    metadata: dict[str, object] | None = None,
) -> object:
    """Keen's ``result`` of ``analysis`` (a single analysis, ``multi_analysis`` or
    ``funnel``) with Keen-style ``params`` over ``project_id``'s events.

    ``max_age``: the seconds a cached result may be old (None: any result of the
    project's current data; 0: recompute, and do not cache). ``now`` (default: the
    clock) resolves relative timeframes. Every parameter is checked before any read;
    QueryError names the one that is wrong, or the bound a read would pass.
    ``metadata``, if given, receives what answered (``source``: the plan's source, or
    ``cache``) and what was read (Keen's ``events_scanned`` and ``properties_scanned``,
    plus ``rollup_rows_read`` and ``bucket_users_read``).
    """
    now = now or timezone.now()
    reads = Reads(project_id=project_id)
    query: DataclassInstance
    compute: Callable[[], object]
    if analysis == "funnel":
        funnel = parse_funnel(params, now=now)
        query, source = funnel, Source.RAW_EVENTS.value
        properties = sum(1 + len(step.filters) for step in funnel.steps) / len(funnel.steps)
        compute = lambda: answer_funnel(query=funnel, reads=reads)  # noqa: E731
    elif analysis == "multi_analysis":
        multi = parse_multi_analysis(params, now=now)
        parts = [part for _, part in multi.parts]
        query, source = multi, "+".join(sorted({part.plan.source.value for part in parts}))
        properties = max(_properties_named(part) for part in parts)
        compute = lambda: answer_multi_analysis(query=multi, reads=reads)  # noqa: E731
    else:
        single = parse_query(analysis, params, now=now)
        query, source, properties = single, single.plan.source.value, _properties_named(single)
        compute = lambda: answer(query=single, reads=reads)  # noqa: E731
    computed = False

    def counted() -> object:
        nonlocal computed
        computed = True
        return compute()

    result = cached_answer(project_id=project_id, query=query, max_age=max_age, compute=counted)
    if metadata is not None:
        metadata.update(
            source=source if computed else "cache",
            events_scanned=reads.events_scanned,
            properties_scanned=round(reads.events_scanned * properties),
            rollup_rows_read=reads.rollup_rows_read,
            bucket_users_read=reads.bucket_users_read,
        )
    return result


def _properties_named(query: Query) -> int:
    """The properties a query reads of each event: its target, filters and groups."""
    return (query.target_property is not None) + len(query.filters) + len(query.group_by) or 1


def extraction_answer(
    *,
    project_id: str,
    params: Params,
    now: dt.datetime | None = None,
    metadata: dict[str, object] | None = None,
) -> list[dict] | ExtractionJob:
    """Keen's ``extraction``: the events (oldest first) when answered synchronously, or
    the queued ExtractionJob when ``email`` is given (never cached: the raw events are
    read as they are). QueryError names a bad parameter or the bound passed."""
    now = now or timezone.now()
    query = parse_extraction(params, now=now)
    if query.email is None:
        found = extract(
            project_id=project_id,
            query=query,
            max_events=settings.EXTRACTION_MAX_EVENTS,
            max_scanned=settings.EXTRACTION_MAX_SCANNED,
        )
        if metadata is not None:
            named = len(query.property_names or ()) + len(query.filters) or 1
            metadata.update(
                source=Source.RAW_EVENTS.value,
                events_scanned=found.scanned,
                properties_scanned=found.scanned * named,
            )
        return found.events
    job = ExtractionJob.objects.create(
        project_id=project_id,
        params={key: params[key] for key in EXTRACTION_PARAMETERS if key in params},
        email=query.email,
        created_at=now,
    )
    from .tasks import extract_events

    # The default queue's workers (not the aggregator's single one): an extraction
    # never delays an aggregation run.
    transaction.on_commit(
        lambda: extract_events.apply_async(
            args=(str(job.id),), queue=settings.CELERY_TASK_DEFAULT_QUEUE
        )
    )
    return job
