"""Ingestion fixtures: a project with keys, a Kafka tap, a real Celery worker."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import WorkerProcess


@pytest.fixture(autouse=True)
def private_queue(settings):
    """Every test enqueues to its own Celery queue, deleted afterwards."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    yield queue
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1)
    from events import ledger

    try:
        pending = ledger.PREFIX + f"pending:{queue}"
        keys = client.zrange(pending, 0, -1)
        if keys:
            client.hdel(ledger.RECORDS, *keys)
            client.hdel(ledger.QUEUES, *keys)
        client.delete(queue, pending)
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
