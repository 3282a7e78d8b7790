"""Celery is real: a task runs in a separate worker process through Redis, not eagerly."""

from __future__ import annotations

import os

import pytest

from analytics_site.celery import app
from analytics_site.tasks import ping
from tests.conftest import WorkerProcess

pytestmark = pytest.mark.integration


@pytest.fixture
def worker_queue(services_up, unique_name: str):
    """A real ``celery worker`` process consuming a private queue; stopped afterwards."""
    worker = WorkerProcess(unique_name)
    worker.start()
    yield unique_name
    worker.stop()


def test_task_runs_in_a_worker_process(worker_queue: str) -> None:
    assert not app.conf.task_always_eager
    result = ping.apply_async(args=("hello",), queue=worker_queue)
    outcome = result.get(timeout=90)
    assert outcome["token"] == "hello"
    assert outcome["pid"] != os.getpid()
    assert result.status == "SUCCESS"
