"""Component health checks: one real round trip per component, with its latency.

Each check returns normally when the component answered and raises otherwise; it
returns counts instead of None when the component is up but degraded.
``run_health_checks`` runs them concurrently under one timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ComponentHealth:
    """The outcome of one check: ``up`` with a latency, or ``down`` with a fixed reason.

    The endpoint is unauthenticated: ``error`` never holds exception text (hosts,
    versions, paths); the exception itself is logged server-side.
    """

    name: str
    up: bool
    latency_ms: float
    error: str | None = None
    # Up but not fully well (e.g. records lost): counts only, shown with "degraded".
    degraded: dict[str, int] | None = None

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {
            "status": ("degraded" if self.degraded else "up") if self.up else "down",
            "latency_ms": round(self.latency_ms, 2),
        }
        if self.error:
            body["error"] = self.error
        if self.up and self.degraded:
            body.update(self.degraded)
        return body


def check_database() -> None:
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close_if_unusable_or_obsolete()


def check_redis() -> None:
    import redis

    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    try:
        if not client.ping():
            raise RuntimeError("PING was not answered with PONG")
    finally:
        client.close()


_kafka_lock = threading.Lock()


def check_kafka() -> None:
    """Ask the cluster for its topic metadata with a short-lived admin client."""
    from kafka import KafkaAdminClient

    timeout_ms = int(settings.HEALTH_CHECK_TIMEOUT_SECONDS * 1000)
    with _kafka_lock:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
            request_timeout_ms=timeout_ms,
            bootstrap_timeout_ms=timeout_ms,  # the default (30 s) would hold the lock
            reconnect_backoff_max_ms=1000,
            client_id="analytics-health",
        )
        try:
            admin.list_topics()
        finally:
            admin.close()


def check_cassandra() -> None:
    """Run ``SELECT release_version FROM system.local`` on the django-cassandra-engine session."""
    connection = connections["cassandra"]
    connection.connect()
    session = connection.connection.session
    row = session.execute(
        "SELECT release_version FROM system.local",
        timeout=settings.HEALTH_CHECK_TIMEOUT_SECONDS,
    ).one()
    if row is None:
        raise RuntimeError("system.local returned no row")


def check_aggregation() -> dict[str, int] | None:
    """Degraded (with counts) when runs of the last ``AGGREGATION_GAP_ALERT_HOURS``
    found Kafka records deleted by retention before they were aggregated."""
    import datetime as dt

    from django.utils import timezone

    from insights.models import JobRun

    since = timezone.now() - dt.timedelta(hours=settings.AGGREGATION_GAP_ALERT_HOURS)
    try:
        runs = JobRun.objects.filter(started_at__gte=since).exclude(offset_gaps=[])
        gaps = [gap for run_gaps in runs.values_list("offset_gaps", flat=True) for gap in run_gaps]
    finally:
        connections["default"].close_if_unusable_or_obsolete()
    if not gaps:
        return None
    return {"offset_gaps": len(gaps), "records_lost": sum(gap["count"] for gap in gaps)}


def check_forwarding() -> dict[str, int] | None:
    """Degraded (with counts) when an accepted event has waited in the ingestion streams
    longer than ``EVENTS_FORWARDING_LAG_ALERT_SECONDS`` without reaching Kafka."""
    from events import stream

    waiting, oldest = stream.waiting()
    if waiting == 0 or oldest <= settings.EVENTS_FORWARDING_LAG_ALERT_SECONDS:
        return None
    return {"waiting_events": waiting, "oldest_waiting_seconds": int(oldest)}


CHECKS: dict[str, Callable[[], dict[str, int] | None]] = {
    "database": check_database,
    "redis": check_redis,
    "kafka": check_kafka,
    "cassandra": check_cassandra,
    "aggregation": check_aggregation,
    "forwarding": check_forwarding,
}


def _timed(name: str, check: Callable[[], dict[str, int] | None]) -> ComponentHealth:
    started = time.perf_counter()
    try:
        degraded = check()
    except Exception:
        elapsed = (time.perf_counter() - started) * 1000
        logger.warning("health check %s failed", name, exc_info=True)
        return ComponentHealth(name, False, elapsed, "the check failed (details in the server log)")
    return ComponentHealth(name, True, (time.perf_counter() - started) * 1000, degraded=degraded)


def run_health_checks(
    checks: dict[str, Callable[[], dict[str, int] | None]] | None = None,
) -> list[ComponentHealth]:
    """Run every check concurrently; a check still running at the timeout is down."""
    checks = checks or CHECKS
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS + 1
    pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="health")
    try:
        futures = {name: pool.submit(_timed, name, check) for name, check in checks.items()}
        deadline = time.monotonic() + timeout
        results = []
        for name, future in futures.items():
            try:
                results.append(future.result(timeout=max(0.0, deadline - time.monotonic())))
            except FutureTimeout:
                results.append(
                    ComponentHealth(name, False, timeout * 1000, f"no answer within {timeout:g}s")
                )
        return results
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
