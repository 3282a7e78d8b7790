"""Celery tasks of the analytics engine (routed to AGGREGATION_QUEUE, but extractions and
cached-query and dataset refreshes, which are sent to the default queue; exports run
on the aggregation queue, where the SparkSession is)."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from .aggregation import run_aggregation
from .lease import AggregationBusy
from .models import JobRun

logger = logging.getLogger(__name__)

# The Spark jobs of the aggregation queue besides the aggregation itself: bound (for
# retries), retried 3 times, within the aggregation's time limit.
ENGINE_JOB: dict = {
    "bind": True,
    "max_retries": 3,
    "soft_time_limit": settings.AGGREGATION_TIME_LIMIT_SECONDS,
    "time_limit": settings.AGGREGATION_TIME_LIMIT_SECONDS + 30,
}


def _later(task: Task, exc: Exception) -> Exception:
    """The retry of ``task`` with backoff (5 s doubling, at most 60 s) after ``exc``."""
    return task.retry(exc=exc, countdown=min(60, 5 * 2**task.request.retries))


@shared_task(
    bind=True,
    name="insights.aggregate_events",
    max_retries=3,
    soft_time_limit=settings.AGGREGATION_TIME_LIMIT_SECONDS,
    time_limit=settings.AGGREGATION_TIME_LIMIT_SECONDS + 30,
)
def aggregate_events(self: Task, trigger: str = JobRun.Trigger.SCHEDULE) -> int | None:
    """Run the aggregation; return the JobRun id, or None if a run was already in progress.

    A failed run (Kafka or Cassandra unreachable, a Spark error) is retried with
    backoff; retrying is safe because a run commits its offsets only on success.
    """
    try:
        return run_aggregation(trigger=trigger).pk
    except AggregationBusy:
        logger.info("aggregation skipped: a run is in progress")
        return None
    except SoftTimeLimitExceeded:
        from .spark_runtime import get_session

        get_session().sparkContext.cancelAllJobs()
        raise
    except Exception as exc:
        raise _later(self, exc) from exc


@shared_task(name="insights.extract_events")
def extract_events(job_id: str) -> None:
    """Run the asynchronous extraction ``job_id`` (``extraction.run_extraction_job``)."""
    from .extraction import run_extraction_job

    run_extraction_job(job_id)


@shared_task(name="insights.refresh_saved_query")
def refresh_saved_query(saved_query_id: int) -> None:
    """Recompute a cached query (scheduled by beat every ``refresh_rate`` seconds)."""
    from .saved_queries import refresh

    refresh(saved_query_id)


@shared_task(name="insights.refresh_dataset")
def refresh_dataset(dataset_id: int, attempts: int = 5) -> int:
    """Recompute the buckets of a cached dataset that new events reached; a failure (a
    busy database, Cassandra away) is tried again in place, ``attempts`` times in all,
    1, 2, 4, 8 s apart, then raised (a later aggregation run queues it again). A query
    the store refuses (its timeframe reaches before a retention) is logged, not retried."""
    import time

    from .datasets import refresh
    from .errors import QueryError

    for attempt in range(attempts):
        try:
            return refresh(dataset_id)
        except QueryError as refused:
            logger.warning("dataset %s cannot be refreshed: %s", dataset_id, refused)
            return 0
        except Exception:
            if attempt == attempts - 1:
                raise
            logger.warning("refreshing dataset %s failed; trying again", dataset_id, exc_info=True)
            time.sleep(2**attempt)
    raise AssertionError("unreachable")


@shared_task(name="insights.export_events", **ENGINE_JOB)
def export_events(self: Task, job_id: str) -> None:
    """Write the next chunk of export ``job_id`` and queue the one after (on the
    aggregation queue, so aggregation runs go on between chunks); retried with backoff,
    then left failed, to be resumed."""
    from .exports import queue_chunk, run_chunk

    try:
        more = run_chunk(job_id)
    except Exception as exc:
        raise _later(self, exc) from exc
    if more:
        queue_chunk(job_id)


@shared_task(name="insights.apply_retention", **ENGINE_JOB)
def apply_retention_task(self: Task, project_id: str) -> int:
    """Rewrite a project's stored raw events for its changed retention (retried with
    backoff while the aggregation lease is busy or a service is down)."""
    from .retention import apply_retention

    try:
        return apply_retention(project_id)
    except Exception as exc:
        raise _later(self, exc) from exc


@shared_task(name="insights.purge_rollups", **ENGINE_JOB)
def purge_rollups(self: Task, project_id: str | None = None) -> int:
    """Remove rollup buckets beyond the rollup retention of ``project_id`` (None: of
    every project that sets one: the daily beat task); return the rollup rows removed.
    Retried with backoff while the aggregation lease is busy or a service is down."""
    from .rollup_retention import purge, purge_all

    try:
        done = purge_all().values() if project_id is None else [purge(project_id)]
    except Exception as exc:
        raise _later(self, exc) from exc
    return sum(purged.rollup_rows for purged in done)
