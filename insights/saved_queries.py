"""Keen's saved and cached queries: a named query of a project, checked when saved,
answered by the same selectors as the query API.

A saved query with ``refresh_rate`` > 0 is a cached query: a django-celery-beat task
(``insights.refresh_saved_query``, on the default queue, editable in the admin)
recomputes it every ``refresh_rate`` seconds, and ``results`` serves that answer with
its age. ``refresh_rate`` is 0, or from ``CACHED_QUERY_MIN_REFRESH_SECONDS`` (4 hours,
Keen's floor) to ``CACHED_QUERY_MAX_REFRESH_SECONDS`` (48 hours).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from events.models import ApiKey, Project

from .compound import parse_funnel, parse_multi_analysis
from .errors import QueryError
from .models import SavedQuery
from .queries import ANALYSES, COMPOUND_ANALYSES, parse_query, whole_number
from .selectors import query_answer
from .timeframes import iso

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
SAVED_ANALYSES = (*ANALYSES, *COMPOUND_ANALYSES)
REFRESH_TASK = "insights.refresh_saved_query"


class SavedQueryNotFound(LookupError):
    """No saved query of that name in the project (answered 404)."""


def checked_name(name: str) -> str:
    if not NAME.match(name):
        raise QueryError(
            "query_name",
            "must be 1 to 255 letters, digits, '_', '.' or '-', starting with a letter or digit",
        )
    return name


def checked_definition(body: object) -> tuple[dict[str, Any], int, dict[str, Any]]:
    """(query, refresh_rate, metadata) of a saved query's body, ``{"query": {...,
    "analysis_type"}, "refresh_rate"?, "metadata"?}``; the query is parsed as the query
    API would parse it, and QueryError names what is wrong (``query.<parameter>``)."""
    if not isinstance(body, dict):
        raise QueryError("body", "must be an object with query, refresh_rate and metadata")
    query = body.get("query")
    if not isinstance(query, dict):
        raise QueryError("query", "is required: an object of Keen query parameters")
    analysis = query.get("analysis_type")
    if analysis not in SAVED_ANALYSES:
        raise QueryError("query.analysis_type", f"must be one of {', '.join(SAVED_ANALYSES)}")
    params = {key: value for key, value in query.items() if key != "analysis_type"}
    try:
        _parse(str(analysis), params)
    except QueryError as error:
        raise QueryError(f"query.{error.field}", error.message) from None
    refresh = body.get("refresh_rate", 0)
    refresh_rate = whole_number(
        refresh if refresh is not None else 0,
        field="refresh_rate",
        requirement="must be a whole number of seconds",
    )
    low, high = settings.CACHED_QUERY_MIN_REFRESH_SECONDS, settings.CACHED_QUERY_MAX_REFRESH_SECONDS
    if refresh_rate != 0 and not low <= refresh_rate <= high:
        raise QueryError("refresh_rate", f"must be 0, or from {low} to {high} seconds")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise QueryError("metadata", "must be an object")
    return query, refresh_rate, metadata


def _parse(analysis: str, params: dict[str, Any]) -> None:
    now = timezone.now()
    if analysis == "funnel":
        parse_funnel(params, now=now)
    elif analysis == "multi_analysis":
        parse_multi_analysis(params, now=now)
    else:
        parse_query(analysis, params, now=now)


def find(project_id: str, name: str) -> SavedQuery:
    try:
        return SavedQuery.objects.get(project_id=project_id, name=name)
    except SavedQuery.DoesNotExist:
        raise SavedQueryNotFound(f"no saved query named {name[:255]!r}") from None


@transaction.atomic
def save(project_id: str, name: str, body: object) -> tuple[SavedQuery, bool]:
    """Create or wholly replace saved query ``name`` (Keen's PUT); True if created. A
    changed query drops its cached answer; the beat schedule follows ``refresh_rate``."""
    query, refresh_rate, metadata = checked_definition(body)
    project = Project.objects.get(pk=project_id)
    saved = SavedQuery.objects.filter(project=project, name=checked_name(name)).first()
    created = saved is None
    if saved is None:
        saved = SavedQuery(project=project, name=name)
    if saved.query != query:
        saved.result, saved.result_at, saved.refresh_error = None, None, ""
    saved.query, saved.refresh_rate, saved.metadata = query, refresh_rate, metadata
    saved.updated_at = timezone.now()
    saved.save()
    sync_schedule(saved)
    return saved, created


def sync_schedule(saved: SavedQuery) -> None:
    """The beat task of a cached query: every ``refresh_rate`` seconds, on the default
    queue; none for ``refresh_rate`` 0."""
    if saved.refresh_rate == 0:
        if saved.schedule is not None:
            saved.schedule.delete()
            saved.schedule = None
            saved.save(update_fields=["schedule"])
        return
    interval, _ = IntervalSchedule.objects.get_or_create(
        every=saved.refresh_rate, period=IntervalSchedule.SECONDS
    )
    task, _ = PeriodicTask.objects.update_or_create(
        name=f"cached query {saved.project_id}/{saved.name}",
        defaults={
            "task": REFRESH_TASK,
            "interval": interval,
            "args": json.dumps([saved.pk]),
            "queue": settings.CELERY_TASK_DEFAULT_QUEUE,
            "enabled": True,
        },
    )
    if saved.schedule_id != task.pk:
        saved.schedule = task
        saved.save(update_fields=["schedule"])


@transaction.atomic
def delete(project_id: str, name: str) -> None:
    saved = find(project_id, name)
    if saved.schedule is not None:
        saved.schedule.delete()
    saved.delete()


def answer_of(saved: SavedQuery, *, max_age: float | None) -> object:
    """The saved query's result, through the query API's selectors (and cache)."""
    params = {key: value for key, value in saved.query.items() if key != "analysis_type"}
    return query_answer(
        project_id=saved.project_id,
        analysis=saved.query["analysis_type"],
        params=params,
        max_age=max_age,
    )


def scoped_results(saved: SavedQuery, key: ApiKey) -> dict[str, Any]:
    """The saved query answered now for ``key``, with its forced filters applied."""
    from .access_keys import scoped

    analysis = saved.query["analysis_type"]
    params = {name: value for name, value in saved.query.items() if name != "analysis_type"}
    result = query_answer(
        project_id=saved.project_id,
        analysis=analysis,
        params=scoped(analysis, params, key),
        max_age=None,
    )
    return {**as_keen(saved), "result": result}


def refresh(saved_id: int) -> None:
    """Recompute cached query ``saved_id`` now (the beat task); a query that no longer
    answers (a bound passed) records why and keeps its last answer."""
    saved = SavedQuery.objects.filter(pk=saved_id).first()
    if saved is None:
        return
    try:
        result = answer_of(saved, max_age=0)
    except QueryError as error:
        SavedQuery.objects.filter(pk=saved.pk).update(refresh_error=str(error))
        return
    SavedQuery.objects.filter(pk=saved.pk).update(
        result=result, result_at=timezone.now(), refresh_error=""
    )


def results(saved: SavedQuery, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Keen's saved-query result: the definition with ``result``. A cached query serves
    its last recomputation (computed now if it has none yet), with ``result_age``
    (seconds) and ``result_computed_at``; another is answered live."""
    if saved.refresh_rate == 0:
        return {**as_keen(saved), "result": answer_of(saved, max_age=None)}
    if saved.result_at is None:
        refresh(saved.pk)
        saved.refresh_from_db()
        if saved.result_at is None:  # it cannot be answered: say why
            raise QueryError("query", saved.refresh_error or "could not be computed")
    now = now or timezone.now()
    shown = as_keen(saved)
    return {
        **shown,
        "result": saved.result,
        "result_computed_at": iso(saved.result_at),
        "result_age": round((now - saved.result_at).total_seconds(), 3),
    }


def as_keen(saved: SavedQuery) -> dict[str, Any]:
    """A saved query in Keen's shape."""
    run = None
    if saved.refresh_rate:
        run = {
            "last_run_date": iso(saved.result_at) if saved.result_at else None,
            "last_run_error": saved.refresh_error or None,
        }
    return {
        "query_name": saved.name,
        "query": saved.query,
        "refresh_rate": saved.refresh_rate,
        "metadata": saved.metadata,
        "created_date": iso(saved.created_at),
        "last_modified_date": iso(saved.updated_at),
        "user_last_modified_date": iso(saved.updated_at),
        "run_information": run,
    }
