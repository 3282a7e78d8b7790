"""Aggregation fixtures: a private topic prefix and a forwarding worker."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import WorkerProcess
from tests.events.conftest import private_queue  # noqa: F401  (fixture)


@pytest.fixture
def topic_prefix(settings, services_up) -> str:
    """Kafka topics of this test only, so a run reads nothing else."""
    from kafka.admin import KafkaAdminClient, NewTopic

    from events.topics import all_topics

    prefix = f"test-{uuid.uuid4().hex[:10]}.events"
    settings.KAFKA_TOPIC_PREFIX = prefix
    admin = KafkaAdminClient(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    try:
        admin.create_topics([NewTopic(t, 3, 1) for t in all_topics()])
    finally:
        admin.close()
    return prefix


@pytest.fixture
def forwarding_worker(private_queue, topic_prefix):  # noqa: F811
    """A real Celery worker forwarding this test's ingested events to its topics."""
    worker = WorkerProcess(private_queue, env={"KAFKA_TOPIC_PREFIX": topic_prefix})
    worker.start()
    yield worker
    worker.stop()
