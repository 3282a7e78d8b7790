"""Ingestion fixtures: a project with keys, a Kafka tap, a real Celery worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from tests.conftest import REPO_ROOT
from tests.events.kafka_tap import KafkaTap


@pytest.fixture
def project_keys(db) -> dict[str, str]:
    from events.services import create_project_with_keys

    project, keys = create_project_with_keys(name=f"test {uuid.uuid4().hex[:6]}")
    return {"project_id": project.id, **{f"{kind}_key": key for kind, key in keys.items()}}


@pytest.fixture
def kafka_tap(services_up):
    tap = KafkaTap()
    yield tap
    tap.close()


class WorkerProcess:
    """A ``celery worker`` subprocess on a private queue; can be killed and restarted."""

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "analytics_site", "worker",
                "--pool", "solo", "--queues", self.queue,
                "--hostname", f"{self.queue}-{time.monotonic_ns()}@%h",
                "--without-gossip", "--without-mingle", "--loglevel", "WARNING",
            ],
            cwd=REPO_ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "analytics_site.settings",
                 "KAFKA_REQUEST_TIMEOUT_MS": "3000", "CELERY_VISIBILITY_TIMEOUT": "5"},
            start_new_session=True,
        )  # fmt: skip

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


@pytest.fixture(autouse=True)
def private_queue(settings):
    """Every test enqueues to its own Celery queue, deleted afterwards."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    yield queue
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1)
    try:
        client.delete(queue)
    except redis.ConnectionError:
        pass  # tests of pure logic run without services
    finally:
        client.close()


@pytest.fixture
def celery_worker(services_up, private_queue):
    """A real worker process serving this test's queue."""
    worker = WorkerProcess(private_queue)
    worker.start()
    yield worker
    worker.stop()
