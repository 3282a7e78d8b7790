"""Shared fixtures: real services, checked once; a missing service fails, never skips."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_stack(*args: str, env: dict[str, str] | None = None, timeout: float = 300):
    """Run ``python -m services.localstack ARGS`` and return the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "services.localstack", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class WorkerProcess:
    """A ``celery worker`` subprocess on a private queue; can be killed and restarted."""

    def __init__(
        self, queue: str, *, env: dict[str, str] | None = None, pool: str = "solo"
    ) -> None:
        self.queue = queue
        self.env = env or {}
        self.pool = pool
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "analytics_site",
                "worker",
                "--pool",
                self.pool,
                "--concurrency",
                "1",
                "--queues",
                self.queue,
                "--hostname",
                f"{self.queue}-{time.monotonic_ns()}@%h",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                os.environ.get("TEST_WORKER_LOGLEVEL", "WARNING"),
            ],
            cwd=REPO_ROOT,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "analytics_site.settings",
                "KAFKA_REQUEST_TIMEOUT_MS": "3000",
                "EVENTS_STREAM_CLAIM_IDLE_SECONDS": "3",
                "EVENTS_DRAIN_FLAG_SECONDS": "3",
                "EVENTS_STREAM_PREFIX": f"{self.queue}:stream",
                "CELERY_DEFAULT_QUEUE": self.queue,
                **self.env,
            },
            start_new_session=True,
        )

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="session")
def services_up() -> None:
    """Fail the test at once, naming the service, if the local stack is not ready."""
    result = run_stack("status")
    not_ready = [line for line in result.stdout.splitlines() if not line.endswith(": ready")]
    if result.returncode != 0 or not_ready:
        pytest.fail(
            "local services are not ready (start them with `make services`):\n"
            + (result.stdout + result.stderr),
            pytrace=False,
        )


@pytest.fixture
def kafka_tap(services_up):
    """Reads what reaches the event topics from now on (tests/events/kafka_tap.py)."""
    from tests.events.kafka_tap import KafkaTap

    tap = KafkaTap()
    yield tap
    tap.close()


@pytest.fixture
def project_keys(db) -> dict[str, str]:
    from events.services import create_project_with_keys

    project, keys = create_project_with_keys(name=f"test {uuid.uuid4().hex[:6]}")
    return {"project_id": project.id, **{f"{kind}_key": key for kind, key in keys.items()}}


@pytest.fixture
def topic_prefix(settings, services_up) -> str:
    """Kafka topics of this test only (KAFKA_TOPIC_PREFIX), so a run reads nothing else."""
    from events.kafka_topics import ensure_topics
    from tests.events.kafka_tap import TEST_TOPICS

    prefix = f"test-{uuid.uuid4().hex[:10]}.events"
    settings.KAFKA_TOPIC_PREFIX = prefix
    ensure_topics(TEST_TOPICS)
    return prefix


@pytest.fixture
def unique_name() -> str:
    """A fresh name for topics, queues and projects, so tests never collide."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session", autouse=True)
def _close_cassandra_clusters():
    """Shut the driver's clusters down at the end, so its reactor thread exits cleanly."""
    yield
    from cassandra.cqlengine import connection as cql_connection

    for name in list(cql_connection._connections):
        cql_connection.unregister_connection(name)


@pytest.fixture(scope="session")
def spark():
    """The process's warm SparkSession (driver on 127.0.0.1, both connectors): the one
    the aggregation service itself uses."""
    from insights.spark_runtime import get_session

    session = get_session()
    yield session
    session.stop()


@pytest.fixture(autouse=True)
def _no_failed_authentications_counted(request):
    """Tests that use the database (every API test) start and end with no failed key
    authentications counted for the test client's address, so bad keys sent by one test
    never turn another's requests into 429s (AUTH_FAILURE_RATE_LIMIT stays in force)."""
    database_fixtures = {"db", "transactional_db", "live_server"}
    if request.node.get_closest_marker("django_db") is None and not (
        database_fixtures & set(request.fixturenames)
    ):
        yield
        return
    from events.throttling import reset_auth_failures

    reset_auth_failures("127.0.0.1")
    yield
    reset_auth_failures("127.0.0.1")


@pytest.fixture(autouse=True)
def _no_remembered_keys():
    """Every test starts with no API key remembered in this process (auth.lookup_key)."""
    from events.auth import forget_cached_keys

    forget_cached_keys()
    yield
    forget_cached_keys()


@pytest.fixture(autouse=True)
def _no_query_rate_limit(settings):
    """In-process tests query far faster than any client (a cached answer takes a few
    milliseconds), so QUERY_RATE_LIMIT is off for them; its own test sets a limit."""
    settings.QUERY_RATE_LIMIT = (0, 1)
