"""The forwarding ledger against real Redis, and a batch lost in flight reaching Kafka."""

from __future__ import annotations

import uuid

import pytest
import redis

from events.ledger import Ledger

pytestmark = pytest.mark.integration

GRACE = 10.0
STALE = 30.0


@pytest.fixture
def ledger(services_up, settings):
    """A ledger in its own Redis database, emptied before and after."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, db=15)
    client.flushdb()
    yield Ledger(client)
    client.flushdb()
    client.close()


class Publisher:
    def __init__(self) -> None:
        self.published: list[tuple[str, str]] = []

    def __call__(self, key: str, queue: str) -> None:
        self.published.append((key, queue))


def _batch(ledger: Ledger, queue: str = "q") -> str:
    key = uuid.uuid4().hex
    ledger.record(key, queue, [{"event_id": key}])
    return key


def _sweep(ledger: Ledger, at: float) -> list[tuple[str, str]]:
    publish = Publisher()
    ledger.client.delete("events:ledger:sweep-lock")
    ledger.sweep(publish, grace=GRACE, stale_after=STALE, now=at)
    return publish.published


def test_records_are_kept_until_finished(ledger) -> None:
    key = _batch(ledger)
    assert ledger.records(key) == [{"event_id": key}]
    ledger.received(key, now=0)
    ledger.finished(key)
    assert ledger.records(key) is None
    assert ledger.client.zcard("events:ledger:inflight") == 0
    assert ledger.client.zcard("events:ledger:pending:q") == 0


def test_a_batch_skipped_by_its_queue_is_republished_after_the_grace(ledger) -> None:
    lost, later = _batch(ledger), _batch(ledger)
    ledger.received(later, now=100)
    assert _sweep(ledger, at=100) == []  # first sweep only takes the checkpoint
    assert _sweep(ledger, at=105) == []  # within the grace: it may still be in flight
    assert _sweep(ledger, at=111) == [(lost, "q")]
    assert _sweep(ledger, at=122) == []  # republished: pending again, behind nothing
    assert ledger.records(lost) == [{"event_id": lost}]


def test_a_backlog_is_never_republished(ledger) -> None:
    first, *backlog = [_batch(ledger) for _ in range(5)]
    ledger.received(first, now=100)
    ledger.finished(first)
    assert _sweep(ledger, at=100) == []
    assert _sweep(ledger, at=200) == []  # queued after the last received batch: waiting
    assert all(ledger.records(key) is not None for key in backlog)


def test_watermarks_are_per_queue(ledger) -> None:
    idle = _batch(ledger, queue="idle")
    busy = _batch(ledger, queue="busy")
    ledger.received(busy, now=100)
    ledger.finished(busy)
    assert _sweep(ledger, at=100) == []
    assert _sweep(ledger, at=200) == []
    assert ledger.records(idle) is not None


def test_a_batch_received_but_never_finished_is_republished_when_stale(ledger) -> None:
    key = _batch(ledger)
    ledger.received(key, now=100)
    assert _sweep(ledger, at=100) == []
    assert _sweep(ledger, at=125) == []
    assert _sweep(ledger, at=136) == [(key, "q")]  # sweeps come one grace apart
    ledger.received(key, now=136)
    ledger.finished(key)
    assert _sweep(ledger, at=500) == []


def test_only_one_sweeper_runs_at_a_time(ledger) -> None:
    lost, later = _batch(ledger), _batch(ledger)
    ledger.received(later, now=100)
    _sweep(ledger, at=100)
    ledger.client.set("events:ledger:sweep-lock", "1")
    publish = Publisher()
    assert ledger.sweep(publish, grace=GRACE, stale_after=STALE, now=120) == []
    assert publish.published == []
    assert ledger.client.zscore("events:ledger:pending:q", lost) is not None


@pytest.mark.django_db
def test_a_message_popped_by_a_dying_worker_still_reaches_kafka(
    project_keys, kafka_tap, private_queue, settings
) -> None:
    """Simulate the kombu gap exactly: a worker pops messages (BRPOP) and dies before
    recording them as unacked. The ledger's sweep must bring those events to Kafka."""
    from rest_framework.test import APIClient

    from tests.conftest import WorkerProcess

    client = APIClient()
    sent: set[str] = set()
    for request in range(3):
        batch = [{"name": "gap", "event_id": f"gap-{request}-{n}"} for n in range(10)]
        response = client.post(
            "/api/v1/events", {"batch": batch}, format="json",
            HTTP_AUTHORIZATION=f"Bearer {project_keys['write_key']}",
        )  # fmt: skip
        assert response.status_code == 202, response.content
        sent.update(event["event_id"] for event in batch)
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    assert broker.rpop(private_queue) is not None  # the oldest message, gone for good
    worker = WorkerProcess(private_queue, env={"EVENTS_LEDGER_SWEEP_SECONDS": "2"})
    worker.start()
    try:
        records = kafka_tap.collect(
            project_id=project_keys["project_id"], event_ids=sent, timeout=90
        )
    finally:
        worker.stop()
    assert {record["event_id"] for _, record in records} == sent
