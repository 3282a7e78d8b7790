"""Suppression at the door: a deleted user's later events, refused before they are stored.

The Redis set ``suppressed:{project_id}`` (on the streams' Redis) holds the distinct ids
whose every event the project asked to drop: ``insights.deletions.sync_suppressed``
keeps it equal to the suppressing user deletions without an event name or timeframe.
Ingestion asks it once per request. Aggregation drops the same users' events too, and
that stays the guarantee for events already on their way and for narrower suppressions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from . import stream
from .envelope import EventError
from .ingest import IngestResult

FIELD = "distinct_id"
MESSAGE = "this user's events are suppressed (deleted at the project's request): not stored"


def key(project_id: str) -> str:
    """The set of ``project_id``'s suppressed distinct ids."""
    return f"suppressed:{project_id}"


def replace(project_id: str, distinct_ids: Iterable[str]) -> None:
    """Make ``distinct_ids`` the project's suppressed set (empty: none)."""
    members = sorted(set(distinct_ids))
    pipeline = stream.client().pipeline(transaction=True)
    pipeline.delete(key(project_id))
    if members:
        pipeline.sadd(key(project_id), *members)
    pipeline.execute()


def drop_suppressed(results: Sequence[IngestResult], *, project_id: str) -> None:
    """Move every accepted event of a suppressed user into its result's errors
    (field ``distinct_id``), in one Redis round trip. Raises RedisError when the
    streams' Redis is unreachable (the request is then refused whole, like its append)."""
    asked = sorted({e.distinct_id for r in results for e in r.accepted if e.distinct_id})
    if not asked:
        return
    flags = stream.client().smismember(key(project_id), asked)
    suppressed = {distinct_id for distinct_id, flag in zip(asked, flags, strict=True) if flag}
    if not suppressed:
        return
    for result in results:
        gone = [i for i, e in enumerate(result.accepted) if e.distinct_id in suppressed]
        for i in gone:
            result.errors.append(EventError(index=result.indexes[i], field=FIELD, message=MESSAGE))
            result.too_large.append(False)
            result.stored_bytes -= result.sizes[i]
        for i in reversed(gone):
            for kept in (result.accepted, result.encoded, result.indexes, result.sizes):
                del kept[i]
