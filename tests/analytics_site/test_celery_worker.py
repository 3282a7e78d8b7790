"""Celery is real: a task runs in a separate worker process through Redis, not eagerly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from analytics_site.celery import app
from analytics_site.tasks import ping
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration


@pytest.fixture
def worker(services_up, unique_name: str):
    """A real ``celery worker`` process consuming a private queue; stopped afterwards."""
    process = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "analytics_site", "worker",
            "--pool", "solo", "--queues", unique_name, "--hostname", f"{unique_name}@%h",
            "--without-gossip", "--without-mingle", "--loglevel", "WARNING",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "analytics_site.settings"},
    )  # fmt: skip
    yield unique_name
    process.terminate()
    process.wait(timeout=30)


def test_task_runs_in_a_worker_process(worker: str) -> None:
    assert not app.conf.task_always_eager
    result = ping.apply_async(args=["hello"], queue=worker)
    outcome = result.get(timeout=90)
    assert outcome["token"] == "hello"
    assert outcome["pid"] != os.getpid()
    assert result.status == "SUCCESS"
