"""Exports of raw events (``ExportJob``): planned from the daily rollups (the days that
have events, so no scan), then written by Spark (``spark.jobs.export_events``) one
chunk of ``EXPORT_CHUNK_PARTITIONS`` raw-event partitions at a time, each chunk to its
own directory ``part-NNNNN`` under the export's destination: a directory, or an
``s3://bucket/prefix`` URL of an S3-compatible store (Spark writes the chunk to a local
staging directory, then boto3 uploads it).

The Celery task runs one chunk and queues the next, on the aggregation queue (where
the warm SparkSession is), so aggregation runs go on between chunks. A chunk that
fails is retried; an export that gave up is resumed (API, ``manage.py export
--resume``) at its first chunk not done; a chunk rewritten replaces its directory,
so every event is exported exactly once.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from events.models import Project
from spark.schema import EVENTS_METRIC, Granularity, Table

from . import store
from .engine_queue import send
from .models import EventCollection, ExportJob

logger = logging.getLogger(__name__)
FIRST_YEAR = 1970  # without a timeframe, an export covers the events from this year on


def default_destination(job_id: uuid.UUID) -> str:
    """Where an API export goes: ``EXPORT_DESTINATION`` (an ``s3://bucket/prefix``) or
    else ``EXPORTS_DIR``, then the export's id."""
    base = settings.EXPORT_DESTINATION or str(settings.EXPORTS_DIR)
    return f"{base.rstrip('/')}/{job_id}"


def _s3_location(destination: str) -> tuple[str, str] | None:
    """(bucket, key prefix) of an ``s3://`` destination; None for a directory."""
    if not destination.startswith("s3://"):
        return None
    bucket, _, prefix = destination.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")


def _s3() -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=settings.EXPORT_S3_ENDPOINT_URL or None)


def _write_chunk(job: ExportJob, index: int, partitions: list, write: Any) -> int:
    """Write one chunk with ``write(path)``: to ``destination/part-NNNNN`` for a directory;
    for S3, to a local staging directory, then uploaded under ``prefix/part-NNNNN/``
    (replacing what an interrupted attempt uploaded there)."""
    chunk = f"part-{index:05d}"
    s3 = _s3_location(job.destination)
    if s3 is None:
        return write(f"{job.destination}/{chunk}")
    import shutil

    bucket, prefix = s3
    staging = Path(settings.EXPORTS_DIR) / "staging" / str(job.pk) / chunk
    written = write(str(staging))
    client = _s3()
    key_prefix = f"{prefix}/{chunk}/" if prefix else f"{chunk}/"
    old = client.list_objects_v2(Bucket=bucket, Prefix=key_prefix).get("Contents", [])
    for entry in old:
        client.delete_object(Bucket=bucket, Key=entry["Key"])
    for path in sorted(staging.iterdir()):
        if path.is_file() and not path.name.endswith(".crc"):
            client.upload_file(str(path), bucket, key_prefix + path.name)
    shutil.rmtree(staging, ignore_errors=True)
    return written


def request_export(
    *,
    project: Project,
    file_format: str,
    requested_by: str,
    name: str = "",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    destination: str | None = None,
    queue: bool = True,
) -> ExportJob:
    """Record an export (to ``destination``, by default ``EXPORTS_DIR/<id>``) and, with
    ``queue``, queue its first chunk once the request is committed."""
    job_id = uuid.uuid4()
    job = ExportJob.objects.create(
        id=job_id,
        project=project,
        file_format=file_format,
        name=name,
        start=start,
        end=end,
        destination=destination or default_destination(job_id),
        requested_by=requested_by,
    )
    if queue:
        transaction.on_commit(lambda: queue_chunk(job.pk))
    return job


def resume(job: ExportJob) -> None:
    """Queue an unfinished export again, from its first chunk not done."""
    if job.status != ExportJob.Status.SUCCEEDED:
        job.status = ExportJob.Status.PENDING
        job.error = ""
        job.save(update_fields=["status", "error"])
        queue_chunk(job.pk)


def queue_chunk(job_id: uuid.UUID | str) -> None:
    """Queue the export's next chunk."""
    send("insights.export_events", str(job_id), unsent="resume the export")


def plan(job: ExportJob) -> list[list[list[str]]]:
    """The export's raw-event partitions ([name, ISO day], the days with events) cut
    into chunks of EXPORT_CHUNK_PARTITIONS."""
    project_id = str(job.project_id)
    if job.name:
        names = [job.name]
    else:
        names = list(
            EventCollection.objects.filter(project_id=project_id).values_list("name", flat=True)
        )
    units = [
        [name, day.isoformat()]
        for name in sorted(names)
        for day in days_with_events(project_id, name, start=job.start, end=job.end)
    ]
    size = settings.EXPORT_CHUNK_PARTITIONS
    return [units[i : i + size] for i in range(0, len(units), size)]


def days_with_events(
    project_id: str, name: str, *, start: dt.datetime | None, end: dt.datetime | None
) -> list[dt.date]:
    """The UTC days with events of ``name`` touching [start, end), from the daily rollups."""
    first = start.astimezone(dt.UTC).year if start else FIRST_YEAR
    last = end.astimezone(dt.UTC).year if end else timezone.now().year + 1
    statement = store.session().prepare(
        f"SELECT bucket, category FROM {store.keyspace()}.{Table.ROLLUPS} WHERE project_id=? "
        "AND name=? AND metric=? AND granularity=? AND period=?"
    )
    days = set()
    for year in range(first, last + 1):
        for row in store.session().execute(
            statement, (project_id, name, EVENTS_METRIC, Granularity.DAY.value, str(year))
        ):
            day = row["bucket"].replace(tzinfo=dt.UTC)
            if (start is None or day + dt.timedelta(days=1) > start) and (end is None or day < end):
                days.add(day.date())
    return sorted(days)


def run_chunk(job_id: uuid.UUID | str) -> bool:
    """Write the export's first chunk not done; return whether chunks remain. Plans the
    export first if it has no plan yet; records a failure (and re-raises it)."""
    from spark.jobs import export_events

    from .spark_runtime import get_session

    job = ExportJob.objects.get(pk=job_id)
    if job.status == ExportJob.Status.SUCCEEDED:
        return False
    try:
        if job.status == ExportJob.Status.PENDING and not job.chunks_done:
            job.plan = plan(job)
        job.status = ExportJob.Status.RUNNING
        job.save(update_fields=["plan", "status"])
        index = next((i for i in range(job.chunks) if str(i) not in job.chunks_done), None)
        if index is not None:
            project_id = str(job.project_id)
            partitions = [
                (project_id, name, dt.date.fromisoformat(day)) for name, day in job.plan[index]
            ]
            written = _write_chunk(
                job,
                index,
                partitions,
                lambda path: export_events.run(
                    get_session(),
                    keyspace=store.keyspace(),
                    partitions=partitions,
                    start=job.start,
                    end=job.end,
                    path=path,
                    file_format=job.file_format,
                ),
            )
            job.chunks_done = {**job.chunks_done, str(index): written}
        more = len(job.chunks_done) < job.chunks
        if not more:
            job.status = ExportJob.Status.SUCCEEDED
            job.finished_at = timezone.now()
        job.save(update_fields=["chunks_done", "status", "finished_at"])
        return more
    except BaseException as exc:
        job.status = ExportJob.Status.FAILED
        job.error = f"{type(exc).__name__}: {exc}"[:10_000]
        job.save(update_fields=["status", "error"])
        raise


def run_export(job_id: uuid.UUID | str) -> ExportJob:
    """Write every chunk not done yet, in this process; return the finished job."""
    while run_chunk(job_id):
        pass
    return ExportJob.objects.get(pk=job_id)


def files(job: ExportJob) -> list[dict[str, Any]]:
    """The data files written so far: path relative to the destination, bytes."""
    s3 = _s3_location(job.destination)
    if s3 is not None:
        bucket, prefix = s3
        pages = (
            _s3()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=bucket, Prefix=f"{prefix}/" if prefix else "")
        )
        return [
            {"path": entry["Key"][len(prefix) + 1 if prefix else 0 :], "bytes": entry["Size"]}
            for page in pages
            for entry in page.get("Contents", [])
            if "/part-" in f"/{entry['Key']}" and not entry["Key"].endswith("_SUCCESS")
        ]
    root = Path(job.destination)
    if "://" in job.destination or not root.is_dir():
        return []
    return [
        {"path": str(path.relative_to(root)), "bytes": path.stat().st_size}
        for path in sorted(root.glob("part-*/part-*"))
        if not path.name.endswith(".crc")
    ]


def as_dict(job: ExportJob) -> dict[str, Any]:
    """An export as the API answers it."""

    def iso(moment: dt.datetime | None) -> str | None:
        return None if moment is None else moment.isoformat().replace("+00:00", "Z")

    return {
        "id": str(job.pk),
        "status": job.status,
        "format": job.file_format,
        "event": job.name or None,
        "timeframe": None
        if job.start is None and job.end is None
        else {"start": iso(job.start), "end": iso(job.end)},
        "destination": job.destination,
        "progress": {"chunks_done": len(job.chunks_done), "chunks": job.chunks},
        "events": job.events,
        "files": files(job),
        "requested_by": job.requested_by,
        "created_at": iso(job.created_at),
        "finished_at": iso(job.finished_at),
        "error": job.error or None,
    }
