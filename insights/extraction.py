"""Keen's ``extraction``: the raw events of a collection in a timeframe, as Keen returned
them, oldest first.

An extracted event is the view every query filters on (``raw_answers.event_view``): its
properties, ``distinct_id``, ``category`` and Keen's ``keen`` block (``timestamp``,
``id``, ``created_at``). ``property_names`` projects it onto dotted paths.

Bounds (Keen's): a synchronous answer holds at most ``EXTRACTION_MAX_EVENTS`` (100,000)
events and reads at most ``EXTRACTION_MAX_SCANNED`` (1,000,000) rows, over at most
``EXTRACTION_MAX_DAYS`` day partitions; beyond, QueryError asks to narrow the
timeframe, set ``latest`` or pass ``email`` (an asynchronous extraction to a JSON Lines
file, bounded by ``EXTRACTION_ASYNC_MAX_EVENTS`` and ``EXTRACTION_ASYNC_MAX_SCANNED``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from events.json_parsing import decode_json
from spark.schema import Granularity

from . import store
from .errors import QueryError
from .explorer import latest_events
from .queries import Params, event_collection_of, parse_filters, whole_number
from .raw_answers import MISSING, event_view, lookup, matches
from .retention import check_raw_window
from .timeframes import Timeframe, floor, parse_timezone, resolve_timeframe, shift

MAX_EMAIL_LENGTH = 254  # RFC 5321's longest address
EXTRACTION_PARAMETERS = (
    "event_collection",
    "timeframe",
    "timezone",
    "filters",
    "latest",
    "property_names",
    "email",
)


@dataclass(frozen=True)
class Extraction:
    """A checked extraction request."""

    event_collection: str
    timeframe: Timeframe
    filters: tuple[dict, ...] = ()
    latest: int | None = None  # the newest N events only
    property_names: tuple[str, ...] | None = None  # None: every property
    email: str | None = None  # asynchronous: answered 202 with a job


@dataclass(frozen=True)
class Extracted:
    """The events found (oldest first) and the rows read to find them."""

    events: list[dict[str, Any]]
    scanned: int


def parse_extraction(params: Params, *, now: dt.datetime) -> Extraction:
    """A checked Extraction from Keen's parameters; QueryError names the bad one."""
    tz = parse_timezone(params.get("timezone"))
    latest = params.get("latest")
    count = None
    if latest not in (None, ""):
        count = whole_number(latest, field="latest", requirement="must be a whole number")
        if not 1 <= count <= settings.EXTRACTION_MAX_EVENTS:
            raise QueryError(
                "latest",
                f"must be from 1 to {settings.EXTRACTION_MAX_EVENTS} (EXTRACTION_MAX_EVENTS)",
            )
    email = params.get("email") or None
    if email is not None and (
        not isinstance(email, str) or len(email) > MAX_EMAIL_LENGTH or "@" not in email
    ):
        raise QueryError(
            "email", f"must be an e-mail address of at most {MAX_EMAIL_LENGTH} characters"
        )
    return Extraction(
        event_collection=event_collection_of(
            params.get("event_collection"), field="event_collection"
        ),
        timeframe=resolve_timeframe(params.get("timeframe"), now=now, tz=tz),
        filters=tuple(parse_filters(params.get("filters"))),
        latest=count,
        property_names=_property_names(params.get("property_names")),
        email=email,
    )


def _property_names(value: object) -> tuple[str, ...] | None:
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = decode_json(value)
        except ValueError:
            raise QueryError("property_names", "is not valid JSON") from None
    if value in (None, "", []):
        return None
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise QueryError("property_names", "must be a property name or a list of them")
    return tuple(names)


def project(event: dict[str, Any], names: tuple[str, ...] | None) -> dict[str, Any]:
    """``event`` holding only the dotted paths ``names`` (nested as ``a.b`` is nested);
    a path the event lacks is left out. None: the whole event."""
    if names is None:
        return event
    projected: dict[str, Any] = {}
    for name in names:
        value = lookup(event, name)
        if value is MISSING:
            continue
        *parents, leaf = name.split(".")
        node = projected
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return projected


def extract(*, project_id: str, query: Extraction, max_events: int, max_scanned: int) -> Extracted:
    """The events ``query`` asks for, oldest first, projected; QueryError when more than
    ``max_events`` would be returned or more than ``max_scanned`` rows read."""
    events: list[dict[str, Any]] = []
    scan = Scan()
    for event in matching_events(
        project_id=project_id, query=query, max_scanned=max_scanned, scan=scan
    ):
        if len(events) == max_events:
            raise _too_many("return", max_events)
        events.append(event)
    return Extracted(events, scan.rows)


class Scan:
    """The rows a scan has read so far."""

    rows = 0


def matching_events(
    *, project_id: str, query: Extraction, max_scanned: int, scan: Scan
) -> Iterator[dict[str, Any]]:
    """The events ``query`` asks for, oldest first, projected, as they are read (counted
    in ``scan``); QueryError past ``max_scanned`` rows."""
    check_raw_window(project_id, query.timeframe.start)
    filters = list(query.filters)
    days = _days(query.timeframe)
    if query.latest is not None:
        found = latest_events(
            project_id=project_id,
            name=query.event_collection,
            start=query.timeframe.start,
            end=query.timeframe.end,
            keep=lambda view: matches(view, filters),
            limit=query.latest,
            max_scanned=max_scanned,
        )
        scan.rows = found.scanned
        if not found.exhausted and len(found.events) < query.latest:
            raise _too_many("scan", max_scanned)
        for event in reversed(found.events):
            yield project(event, query.property_names)
        return
    for row in _rows(project_id, query, days):
        scan.rows += 1
        if scan.rows > max_scanned:
            raise _too_many("scan", max_scanned)
        view = event_view(row)
        if matches(view, filters):
            yield project(view, query.property_names)


def _days(frame: Timeframe) -> list[dt.datetime]:
    """The UTC days ``frame`` touches; QueryError beyond EXTRACTION_MAX_DAYS."""
    days = []
    day = floor(frame.start, Granularity.DAY)
    while day < frame.end:
        days.append(day)
        if len(days) > settings.EXTRACTION_MAX_DAYS:
            raise QueryError(
                "timeframe",
                f"an extraction spans at most {settings.EXTRACTION_MAX_DAYS} days "
                "(EXTRACTION_MAX_DAYS); narrow the timeframe",
            )
        day = shift(day, Granularity.DAY, 1)
    return days


def _rows(project_id: str, query: Extraction, days: list[dt.datetime]) -> Iterator[dict]:
    frame = query.timeframe
    for day in days:
        yield from store.raw_event_rows(
            project_id=project_id,
            name=query.event_collection,
            day=day.date(),
            start=frame.start,
            end=frame.end,
        )


def _too_many(what: str, bound: int) -> QueryError:
    if what == "scan":
        rule = f"would read more than {bound} events"
    else:
        rule = f"would return more than {bound} events"
    return QueryError(
        "timeframe",
        f"this extraction {rule}; narrow the timeframe or the filters, set latest, "
        "or pass email for an asynchronous extraction",
    )


def extraction_path(job_id: uuid.UUID | str) -> Path:
    """Where job ``job_id``'s JSON Lines file is written."""
    return Path(settings.EXTRACTIONS_DIR) / f"{job_id}.jsonl"


def run_extraction_job(job_id: uuid.UUID | str) -> None:
    """Run ExtractionJob ``job_id``: its events, oldest first, one JSON object per line,
    written to a temporary file that is renamed into place only when complete; the
    job records what was written, or why it failed (never left running)."""
    from .models import ExtractionJob

    job = ExtractionJob.objects.get(pk=job_id)
    job.status = ExtractionJob.Status.RUNNING
    job.save(update_fields=["status"])
    target = extraction_path(job.id)
    partial = target.with_suffix(".partial")
    try:
        query = parse_extraction(job.params, now=job.created_at)
        scan, written = Scan(), 0
        target.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("w", encoding="utf-8") as out:
            for event in matching_events(
                project_id=job.project_id,
                query=query,
                max_scanned=settings.EXTRACTION_ASYNC_MAX_SCANNED,
                scan=scan,
            ):
                written += 1
                if written > settings.EXTRACTION_ASYNC_MAX_EVENTS:
                    raise _too_many("return", settings.EXTRACTION_ASYNC_MAX_EVENTS)
                out.write(json.dumps(event, separators=(",", ":"), default=str) + "\n")
        os.replace(partial, target)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        job.status = ExtractionJob.Status.FAILED
        job.error = str(exc)[:2000] or type(exc).__name__
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
        if not isinstance(exc, QueryError):
            raise
        return
    job.status = ExtractionJob.Status.SUCCEEDED
    job.events, job.scanned = written, scan.rows
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "events", "scanned", "finished_at"])
