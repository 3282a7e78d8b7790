"""Nothing accepted is lost: Kafka outages and a worker killed with SIGKILL."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from tests.conftest import run_stack
from tests.events.ingest_load import post_batches

if TYPE_CHECKING:
    from tests.conftest import WorkerProcess
    from tests.events.kafka_tap import KafkaTap

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_kafka_outage_loses_nothing(
    project_keys: dict[str, str], kafka_tap: KafkaTap, celery_worker: WorkerProcess
) -> None:
    assert run_stack("stop", "kafka").returncode == 0
    try:
        sent = post_batches(project_keys["write_key"], requests=10, per_request=20, tag="out")
        time.sleep(3)  # the worker is now retrying against a dead broker
    finally:
        started = run_stack("start", "kafka")
        assert started.returncode == 0, started.stdout + started.stderr
    records = kafka_tap.collect(project_id=project_keys["project_id"], event_ids=sent, timeout=180)
    assert {record["event_id"] for _, record in records} == sent


def test_worker_killed_mid_batch_loses_nothing(
    project_keys: dict[str, str], kafka_tap: KafkaTap, celery_worker: WorkerProcess
) -> None:
    celery_worker.stop()  # queue everything first, so the kill lands mid-stream
    sent = post_batches(project_keys["write_key"], requests=100, per_request=100, tag="kill")
    celery_worker.start()
    seen = kafka_tap.collect(
        project_id=project_keys["project_id"], expected=1, timeout=60, settle=0
    )
    celery_worker.kill()
    seen_ids = {record["event_id"] for _, record in seen}
    assert 0 < len(seen_ids) < len(sent), "the worker must be killed while work remains"
    celery_worker.start()
    rest = kafka_tap.collect(
        project_id=project_keys["project_id"], event_ids=sent - seen_ids, timeout=180
    )
    delivered = seen_ids | {record["event_id"] for _, record in rest}
    assert delivered == sent
