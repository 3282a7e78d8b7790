"""Query results cached in Redis (Django's cache), invalidated as new aggregates land.

A result is cached under the project's *generation*; every aggregation run that
writes rollups for a project bumps its generation, so no result older than the
project's latest data is ever served. Keen's ``max_age`` (seconds) bounds the age
of a result the caller accepts; ``max_age=0`` always recomputes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache

from .queries import Query

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


def _generation_key(project_id: str) -> str:
    return f"insights:generation:{project_id}"


def bump_generations(project_ids: Iterable[str]) -> None:
    """Invalidate every cached result of these projects."""
    for project_id in set(project_ids):
        key = _generation_key(project_id)
        cache.add(key, 0, timeout=None)
        cache.incr(key)


def _result_key(project_id: str, query: DataclassInstance) -> str:
    """``query`` is a dataclass (a Query, or a compound query made of them)."""
    fields = asdict(query)
    if isinstance(query, Query):
        # An open-ended timeframe ("this_7_days") ends at "now": its result changes
        # only when new data lands, which bumps the generation.
        frame = query.timeframe
        end = None if frame.open_end else frame.end.isoformat()
        fields["timeframe"] = [frame.start.isoformat(), end]
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()
    generation = cache.get(_generation_key(project_id), 0)
    return f"insights:result:{project_id}:{generation}:{digest[:32]}"


def cached_answer(
    *,
    project_id: str,
    query: DataclassInstance,
    max_age: float | None,
    compute: Callable[[], object],
) -> object:
    """``compute()``'s result, from the cache when a fresh enough one is there."""
    if max_age is not None and max_age <= 0:
        return compute()
    key = _result_key(project_id, query)
    hit = cache.get(key)
    if hit is not None and (max_age is None or time.time() - hit["at"] <= max_age):
        return hit["result"]
    result = compute()
    cache.set(key, {"at": time.time(), "result": result}, timeout=settings.QUERY_CACHE_SECONDS)
    return result
