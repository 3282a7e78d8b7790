"""Keen's cached datasets: a query with an ``interval``, precomputed per value of
``index_by`` per interval bucket, answered by the same selectors as the query API.

Each bucket of the dataset's timeframe is one group_by query (``index_by``) over that
bucket, stored as a ``DatasetBucket`` with the bucket's event count at the time. After
each aggregation run that wrote the dataset's collection, a task on the default queue
(``on_aggregated``) recomputes the buckets whose event count (read from the rollups)
changed; a bucket asked for before it was ever computed is computed then. ``results``
reads one index value across the buckets of a timeframe.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from events.json_parsing import decode_json
from events.models import Project

from .errors import QueryError
from .models import CachedDataset, DatasetBucket
from .queries import ANALYSES, parse_query
from .saved_queries import checked_name
from .selectors import query_answer
from .timeframes import Timeframe, buckets, floor, iso, resolve_timeframe, shift

REFRESH_TASK = "insights.refresh_dataset"
ZERO_WHEN_EMPTY = ("count", "count_unique", "sum")


class DatasetNotFound(LookupError):
    """No dataset of that name in the project (answered 404)."""


def checked_definition(body: object) -> tuple[dict[str, Any], list[str], str]:
    """(query, index_by, display_name) of a dataset's body; QueryError names what is
    wrong (``query.<parameter>``). The query needs an ``interval`` and no ``group_by``
    (``index_by`` groups it)."""
    if not isinstance(body, dict):
        raise QueryError("body", "must be an object with query, index_by and display_name")
    query = body.get("query")
    if not isinstance(query, dict):
        raise QueryError("query", "is required: an object of Keen query parameters")
    analysis = query.get("analysis_type")
    if analysis not in ANALYSES:
        raise QueryError("query.analysis_type", f"must be one of {', '.join(ANALYSES)}")
    if not query.get("interval"):
        raise QueryError("query.interval", "is required for a cached dataset")
    if query.get("group_by"):
        raise QueryError("query.group_by", "is not allowed: index_by groups a dataset")
    index_by = body.get("index_by")
    names = [index_by] if isinstance(index_by, str) else index_by
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise QueryError("index_by", "is required: a property name or a list of them")
    try:
        parse_query(str(analysis), {**_params(query), "group_by": names}, now=timezone.now())
    except QueryError as error:
        raise QueryError(f"query.{error.field}", error.message) from None
    display_name = body.get("display_name") or ""
    if not isinstance(display_name, str) or len(display_name) > 255:
        raise QueryError("display_name", "must be a string of at most 255 characters")
    return query, names, display_name


def _params(query: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in query.items() if key != "analysis_type"}


def find(project_id: str, name: str) -> CachedDataset:
    try:
        return CachedDataset.objects.get(project_id=project_id, name=name)
    except CachedDataset.DoesNotExist:
        raise DatasetNotFound(f"no cached dataset named {name[:255]!r}") from None


def save(project_id: str, name: str, body: object) -> tuple[CachedDataset, bool]:
    """Create or replace dataset ``name`` (Keen's PUT; True if created): its buckets are
    dropped and computed again by a task on the default queue."""
    query, index_by, display_name = checked_definition(body)
    with transaction.atomic():
        dataset, created = CachedDataset.objects.update_or_create(
            project=Project.objects.get(pk=project_id),
            name=checked_name(name),
            defaults={
                "query": query,
                "index_by": index_by,
                "display_name": display_name,
                "updated_at": timezone.now(),
            },
        )
        dataset.buckets.all().delete()
        transaction.on_commit(lambda: _enqueue(dataset.pk))
    return dataset, created


def _enqueue(dataset_id: int) -> None:
    from .tasks import refresh_dataset

    refresh_dataset.apply_async(args=(dataset_id,), queue=settings.CELERY_TASK_DEFAULT_QUEUE)


def edges(dataset: CachedDataset, timeframe: Timeframe) -> list[tuple[dt.datetime, dt.datetime]]:
    """The (start, end) of the dataset's interval buckets covering ``timeframe``."""
    query = parse_query(
        dataset.query["analysis_type"],
        {
            **_params(dataset.query),
            "timeframe": {"start": iso(timeframe.start), "end": iso(timeframe.end)},
        },
        now=timezone.now(),
    )
    assert query.granularity is not None  # checked_definition: a dataset has an interval
    return [
        (start, shift(start, query.granularity, 1, query.tz))
        for start in buckets(timeframe, query.granularity, query.tz)
    ]


def dataset_timeframe(dataset: CachedDataset) -> Timeframe:
    """The dataset's own timeframe, resolved now, widened to whole buckets."""
    query = parse_query(dataset.query["analysis_type"], _params(dataset.query), now=timezone.now())
    assert query.granularity is not None
    frame = query.timeframe
    end = frame.end
    if floor(end, query.granularity, query.tz) != end:
        end = shift(floor(end, query.granularity, query.tz), query.granularity, 1, query.tz)
    return Timeframe(floor(frame.start, query.granularity, query.tz), end)


def compute_bucket(
    dataset: CachedDataset, start: dt.datetime, end: dt.datetime, *, events_seen: int = 0
) -> DatasetBucket:
    """Compute and store one bucket: the group_by (``index_by``) answer over it, with
    ``events_seen``, the bucket's event count read before the computation."""
    params = {
        **_params(dataset.query),
        "timeframe": {"start": iso(start), "end": iso(end)},
        "group_by": dataset.index_by,
    }
    params.pop("interval", None)
    rows = query_answer(
        project_id=dataset.project_id,
        analysis=dataset.query["analysis_type"],
        params=params,
        max_age=0,
    )
    assert isinstance(rows, list)  # a group_by answer without an interval: its rows
    values = {
        json.dumps([row.get(name) for name in dataset.index_by], sort_keys=True): row["result"]
        for row in rows
    }
    bucket, _ = DatasetBucket.objects.update_or_create(
        dataset=dataset,
        start=start,
        defaults={
            "end": end,
            "values": values,
            "events_seen": events_seen,
            "computed_at": timezone.now(),
        },
    )
    return bucket


def event_counts(dataset: CachedDataset, timeframe: Timeframe) -> list[int]:
    """The event count of each of the dataset's buckets in ``timeframe`` (from the
    rollups: cheap), read fresh."""
    params = {
        "event_collection": dataset.query["event_collection"],
        "timeframe": {"start": iso(timeframe.start), "end": iso(timeframe.end)},
        "interval": dataset.query["interval"],
        "timezone": dataset.query.get("timezone"),
    }
    series = query_answer(project_id=dataset.project_id, analysis="count", params=params, max_age=0)
    assert isinstance(series, list)  # an interval answer: its points
    return [int(point["value"] or 0) for point in series]


def refresh(dataset_id: int) -> int:
    """Recompute the dataset's buckets that new events reached: every bucket of its
    timeframe whose event count differs from the count it was computed at (or that was
    never computed); returns how many were computed. Events are only ever added, so an
    unchanged count is an unchanged bucket."""
    dataset = CachedDataset.objects.filter(pk=dataset_id).first()
    if dataset is None:
        return 0
    frame = dataset_timeframe(dataset)
    spans = edges(dataset, frame)
    counts = event_counts(dataset, frame)
    seen = dict(dataset.buckets.values_list("start", "events_seen"))
    computed = 0
    for (start, end), count in zip(spans, counts, strict=True):
        if seen.get(start) != count:
            compute_bucket(dataset, start, end, events_seen=count)
            computed += 1
    return computed


def on_aggregated(day_partitions: Iterable[tuple]) -> int:
    """After a run: enqueue the refresh of the datasets over the (project, collection)
    pairs it wrote; returns how many were enqueued."""
    pairs = {(project_id, name) for project_id, name, *_ in day_partitions}
    if not pairs:
        return 0
    found = CachedDataset.objects.filter(project_id__in={p for p, _ in pairs})
    enqueued = 0
    for dataset in found:
        if (dataset.project_id, dataset.query.get("event_collection")) in pairs:
            _enqueue(dataset.pk)
            enqueued += 1
    return enqueued


def index_key(dataset: CachedDataset, value: object) -> str:
    """The stored key of an ``index_by`` value: one value (for one index property), a
    JSON list in ``index_by`` order, or a JSON object by property name."""
    if isinstance(value, str) and value.strip()[:1] in "[{":
        try:
            value = decode_json(value)
        except ValueError:
            raise QueryError("index_by", "is not valid JSON") from None
    if isinstance(value, dict):
        values = [value.get(name) for name in dataset.index_by]
    elif isinstance(value, list):
        values = value
    else:
        values = [value]
    if len(values) != len(dataset.index_by):
        raise QueryError("index_by", f"needs a value for each of {', '.join(dataset.index_by)}")
    return json.dumps(values, sort_keys=True)


def results(dataset: CachedDataset, *, index_by: object, timeframe: object) -> list[dict]:
    """Keen's dataset results: ``[{"timeframe", "value"}]`` for one ``index_by`` value,
    one per bucket of ``timeframe`` (whole buckets of the dataset's interval)."""
    if index_by in (None, ""):
        raise QueryError("index_by", "is required: the value to read")
    keys = [index_key(dataset, index_by)]
    if isinstance(index_by, str):  # the client sends a number as its JSON: 5 arrives as "5"
        try:
            scalar = decode_json(index_by)
        except ValueError:
            scalar = None
        if isinstance(scalar, int | float | bool) or index_by == "null":
            keys.append(index_key(dataset, [scalar]))
    tz = parse_query(dataset.query["analysis_type"], _params(dataset.query), now=timezone.now()).tz
    frame = resolve_timeframe(timeframe, now=timezone.now(), tz=tz)
    spans = edges(dataset, frame)
    stored = {
        b.start: b for b in dataset.buckets.filter(start__gte=frame.start, start__lt=frame.end)
    }
    empty = 0 if dataset.query["analysis_type"] in ZERO_WHEN_EMPTY else None
    answer = []
    for start, end in spans:
        bucket = stored.get(start) or compute_bucket(dataset, start, end)
        value = next((bucket.values[k] for k in keys if k in bucket.values), empty)
        answer.append({"timeframe": {"start": iso(start, tz), "end": iso(end, tz)}, "value": value})
    return answer


def delete(project_id: str, name: str) -> None:
    find(project_id, name).delete()


def as_keen(dataset: CachedDataset) -> dict[str, Any]:
    """A dataset's definition in Keen's shape, with how many buckets are computed."""
    return {
        "project_id": dataset.project_id,
        "dataset_name": dataset.name,
        "display_name": dataset.display_name,
        "query": dataset.query,
        "index_by": dataset.index_by,
        "created_date": iso(dataset.created_at),
        "last_modified_date": iso(dataset.updated_at),
        "buckets_computed": dataset.buckets.count(),
    }
