"""Ingestion fixtures: private queues and streams, a real Celery worker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.conftest import WorkerProcess

if TYPE_CHECKING:
    from pytest_django.fixtures import Settings


@pytest.fixture(autouse=True)
def private_queue(settings: Settings) -> Iterator[str]:
    """Every test enqueues to its own Celery queue and ingestion streams, deleted
    afterwards; a drain whose worker was killed is re-triggered within 3 s."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    settings.EVENTS_STREAM_PREFIX = f"{queue}:stream"
    settings.EVENTS_DRAIN_FLAG_SECONDS = 3
    yield queue
    import redis

    from tests.events.stream_tap import delete_streams

    try:
        delete_streams(settings.EVENTS_STREAM_PREFIX)
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1)
        client.delete(queue)
        client.close()
    except redis.ConnectionError:
        pass  # tests of pure logic run without services


@pytest.fixture
def celery_worker(services_up: None, private_queue: str) -> Iterator[WorkerProcess]:
    """A real worker process serving this test's queue."""
    worker = WorkerProcess(private_queue)
    worker.start()
    yield worker
    worker.stop()
