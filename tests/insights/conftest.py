"""Aggregation fixtures: a forwarding worker on the test's topics (``topic_prefix``)."""

from __future__ import annotations

import pytest

from tests.conftest import WorkerProcess
from tests.events.conftest import private_queue  # noqa: F401  (fixture)


@pytest.fixture
def forwarding_worker(private_queue, topic_prefix):  # noqa: F811
    """A real Celery worker forwarding this test's ingested events to its topics."""
    worker = WorkerProcess(private_queue, env={"KAFKA_TOPIC_PREFIX": topic_prefix})
    worker.start()
    yield worker
    worker.stop()
