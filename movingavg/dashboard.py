"""The admin's landing dashboard: a project's events and the pipeline's state.

Every event number comes from the query API's selector
(``insights.selectors.query_answer``, cached as the API is), so the dashboard never
disagrees with the API. The pipeline figures cover every project: the Kafka topics
and the ingestion streams are shared.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from events import stream
from events.topics import dlq_topic, event_topics
from insights.aggregation import committed_offsets
from insights.models import JobRun
from insights.selectors import query_answer
from spark import kafka_reader

RATE_WINDOW_SECONDS = 300
RECENT_HOURS = 24


@dataclass(frozen=True)
class EventRow:
    """One event name's count and unique users (``distinct_id``) over a timeframe."""

    name: str
    count: int
    uniques: int


@dataclass(frozen=True)
class Pipeline:
    """Where events are between the API and the rollups, and what went wrong lately."""

    ingestion_per_second: float  # records that reached Kafka over the last RATE_WINDOW
    forwarding_waiting: int  # accepted (2xx) and not yet in Kafka
    forwarding_oldest_seconds: float
    unaggregated_records: int  # in Kafka, past the committed offsets
    last_success_age_seconds: float | None  # None: no run has succeeded
    failed_runs: int  # in the last RECENT_HOURS
    abandoned_runs: int
    offset_gaps: int  # records retention deleted before a run read them, RECENT_HOURS
    dlq_size: int  # records the DLQ holds


def summed_counts(
    project_id: str, names: list[str], *, timeframe: str, interval: str, zone: str
) -> list[dict]:
    """The count series of every name in ``names``, added bucket by bucket (the API's
    series shape: ``timeframe`` and ``value``)."""
    total: list[dict] = []
    for name in names:
        series = query_answer(
            project_id=project_id,
            analysis="count",
            params={
                "event_collection": name,
                "timeframe": timeframe,
                "interval": interval,
                "timezone": zone,
            },
            max_age=None,
        )
        assert isinstance(series, list)  # an interval query answers a series
        if not total:
            total = [{"timeframe": p["timeframe"], "value": p["value"]} for p in series]
        else:
            for point, other in zip(total, series, strict=True):
                point["value"] += other["value"]
    return total


def top_events(
    project_id: str, names: list[str], *, timeframe: str, zone: str, limit: int = 10
) -> list[EventRow]:
    """The ``limit`` names with the most events over ``timeframe``, with unique users."""
    rows = []
    for name in names:
        params = {"event_collection": name, "timeframe": timeframe, "timezone": zone}
        count = query_answer(project_id=project_id, analysis="count", params=params, max_age=None)
        uniques = query_answer(
            project_id=project_id,
            analysis="count_unique",
            params={**params, "target_property": "distinct_id"},
            max_age=None,
        )
        assert isinstance(count, int)
        assert isinstance(uniques, int)
        rows.append(EventRow(name=name, count=count, uniques=uniques))
    rows.sort(key=lambda row: (-row.count, row.name))
    return rows[:limit]


def pipeline_state(now: dt.datetime | None = None) -> Pipeline:
    """The pipeline's figures now, from Redis, Kafka and the job-run records."""
    now = now or timezone.now()
    waiting, oldest = stream.waiting()
    committed = committed_offsets()
    with kafka_reader.borrowed(settings.KAFKA_BOOTSTRAP_SERVERS) as consumer:
        events = kafka_reader.partitions_of(consumer, event_topics())
        dlq = kafka_reader.partitions_of(consumer, [dlq_topic()])
        earliest = consumer.beginning_offsets(events + dlq)
        latest = consumer.end_offsets(events + dlq)
        since_ms = int((time.time() - RATE_WINDOW_SECONDS) * 1000)
        recent = consumer.offsets_for_times({tp: since_ms for tp in events}) if events else {}
    unaggregated = sum(
        latest[tp] - max(committed.get(tp.topic, {}).get(str(tp.partition), 0), earliest[tp])
        for tp in events
    )
    arrived = sum(latest[tp] - found.offset for tp, found in recent.items() if found is not None)
    since = now - dt.timedelta(hours=RECENT_HOURS)
    runs = JobRun.objects.filter(started_at__gte=since)
    last_success = (
        JobRun.objects.filter(status=JobRun.Status.SUCCEEDED, finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    gaps = [
        gap["count"]
        for run_gaps in runs.exclude(offset_gaps=[]).values_list("offset_gaps", flat=True)
        for gap in run_gaps
    ]
    return Pipeline(
        ingestion_per_second=arrived / RATE_WINDOW_SECONDS,
        forwarding_waiting=waiting,
        forwarding_oldest_seconds=oldest,
        unaggregated_records=max(unaggregated, 0),
        last_success_age_seconds=(now - last_success).total_seconds() if last_success else None,
        failed_runs=runs.filter(status=JobRun.Status.FAILED).count(),
        abandoned_runs=runs.filter(status=JobRun.Status.ABANDONED).count(),
        offset_gaps=sum(gaps),
        dlq_size=sum(latest[tp] - earliest[tp] for tp in dlq),
    )
