"""Nothing accepted is lost when a drain dies at any point, or Redis restarts.

Each test compares the set of event ids the API accepted with the set that reached
Kafka (real Redis, Kafka and Celery worker), and checks that the fault hit while the
drain held work. Duplicates from redelivery are counted: ``event_id`` absorbs them
downstream.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from contextlib import suppress
from typing import TYPE_CHECKING

import pytest
import redis
from django.conf import settings

from events.stream import FAULT_POINTS, GROUP
from tests.conftest import WorkerProcess, run_stack
from tests.events.ingest_load import post_batches

if TYPE_CHECKING:
    from pytest_django.fixtures import Settings

    from tests.events.kafka_tap import KafkaTap

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _streams() -> list[str]:
    prefix = settings.EVENTS_STREAM_PREFIX
    return [f"{prefix}:{n}" for n in range(settings.EVENTS_STREAM_SHARDS)]


def _pending(broker: redis.Redis) -> int:
    """Entries read by some drain and not acknowledged, over the test's streams."""
    total = 0
    for stream in _streams():
        with suppress(redis.ResponseError):  # no group: nothing was read
            total += broker.xpending(stream, GROUP)["pending"]
    return total


def _waiting(broker: redis.Redis) -> int:
    return sum(broker.xlen(stream) for stream in _streams())


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_a_drain_killed_at_any_point_loses_nothing(
    point: str, project_keys: dict[str, str], kafka_tap: KafkaTap, private_queue: str
) -> None:
    broker = redis.Redis.from_url(settings.EVENTS_STREAM_REDIS_URL)
    accepted = post_batches(project_keys["write_key"], requests=5, per_request=40, tag=point)
    assert _waiting(broker) == len(accepted)  # durable before any worker ran

    doomed = WorkerProcess(private_queue, env={"EVENTS_DRAIN_KILL_AT": point})
    doomed.start()
    assert doomed.process is not None  # start() made it
    assert doomed.process.wait(timeout=120) == -9, "the drain never reached " + point
    # The fault hit while the drain held work: nothing acknowledged, all still waiting.
    assert _waiting(broker) == len(accepted)
    held = _pending(broker)
    assert (held == 0) if point == "before_read" else (held > 0), held

    survivor = WorkerProcess(private_queue)
    survivor.start()
    try:
        # The survivor takes the dead drain's entries over once idle past the claim time.
        deadline = time.monotonic() + 120
        while _waiting(broker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _waiting(broker) == 0, "forwarded entries must leave the stream"
        records = kafka_tap.collect(
            project_id=project_keys["project_id"], event_ids=accepted, timeout=60, settle=2
        )
    finally:
        survivor.stop()
    arrived = Counter(record["event_id"] for _, record in records)
    assert set(arrived) == accepted
    duplicates = sum(arrived.values()) - len(arrived)
    if point == "before_ack":  # Kafka had them all: the takeover produces them again
        assert duplicates >= held, (duplicates, held)
    print(f"{point}: {len(accepted)} accepted, {held} held at the kill, {duplicates} duplicates")


def test_redis_killed_and_restarted_keeps_every_accepted_event(
    project_keys: dict[str, str], kafka_tap: KafkaTap, private_queue: str
) -> None:
    """Appended events are on disk (AOF, fsync always) when the client gets its 2xx:
    Redis SIGKILLed right after the last answer loses none of them."""
    from services.localstack.config import load_config
    from services.localstack.proc import read_pid

    accepted = post_batches(project_keys["write_key"], requests=5, per_request=20, tag="restart")
    pid = read_pid(load_config().run_dir / "redis.pid")
    assert pid is not None, "Redis is not running"
    os.kill(pid, signal.SIGKILL)
    started = run_stack("start", "redis")
    assert started.returncode == 0, started.stdout + started.stderr
    broker = redis.Redis.from_url(settings.EVENTS_STREAM_REDIS_URL)
    assert _waiting(broker) == len(accepted), "entries lost in the restart"
    worker = WorkerProcess(private_queue)
    worker.start()
    try:
        records = kafka_tap.collect(
            project_id=project_keys["project_id"], event_ids=accepted, timeout=120
        )
    finally:
        worker.stop()
    assert {record["event_id"] for _, record in records} == accepted


def test_kafka_down_for_a_minute_under_load_loses_nothing(
    project_keys: dict[str, str], kafka_tap: KafkaTap, celery_worker: WorkerProcess
) -> None:
    """Requests keep being accepted (the streams hold them) while Kafka is down for a
    minute; once it is back, every accepted id reaches Kafka."""
    broker = redis.Redis.from_url(settings.EVENTS_STREAM_REDIS_URL)
    key = project_keys["write_key"]
    accepted = post_batches(key, requests=3, per_request=20, tag="before")
    assert run_stack("stop", "kafka").returncode == 0
    down_since = time.monotonic()
    during: set[str] = set()
    try:
        batch = 0
        while time.monotonic() - down_since < 60:
            during |= post_batches(key, requests=1, per_request=20, tag=f"down-{batch}")
            batch += 1
            time.sleep(0.5)
        waiting_while_down = _waiting(broker)
    finally:
        started = run_stack("start", "kafka")
        assert started.returncode == 0, started.stdout + started.stderr
    assert len(during) >= 100 * 20 // 10, len(during)  # accepted all along the outage
    assert waiting_while_down >= len(during), "events accepted without Kafka must wait"
    accepted |= during | post_batches(key, requests=3, per_request=20, tag="after")
    records = kafka_tap.collect(
        project_id=project_keys["project_id"], event_ids=accepted, timeout=240, settle=2
    )
    arrived = Counter(record["event_id"] for _, record in records)
    assert set(arrived) == accepted
    print(
        f"kafka down 60 s: {len(accepted)} accepted, {len(during)} during the outage, "
        f"{sum(arrived.values()) - len(arrived)} duplicates"
    )


def test_the_beat_safety_net_drains_a_stream_whose_trigger_was_lost(
    project_keys: dict[str, str], kafka_tap: KafkaTap, private_queue: str, settings: Settings
) -> None:
    """Entries appended without any drain task (the trigger lost) are drained by the
    safety net once older than EVENTS_DRAIN_SAFETY_SECONDS; it schedules one drain per
    stream, not one per run."""
    # A worker on the test's queue whose default queue is another one, so it does not
    # drain at start: only the safety net's drains can forward these entries.
    worker = WorkerProcess(private_queue, env={"CELERY_DEFAULT_QUEUE": f"{private_queue}-x"})
    worker.start()
    try:
        _safety_net_drains(project_keys["project_id"], kafka_tap, settings)
    finally:
        worker.stop()


def _safety_net_drains(project: str, kafka_tap, settings) -> None:
    from events import stream
    from events.envelope import new_event_id
    from events.forwarding import encode_envelope
    from events.tasks import drain_overdue_streams
    from tests.events.test_envelope import make_envelope

    settings.EVENTS_DRAIN_SAFETY_SECONDS = 2
    envelopes = [
        make_envelope(project_id=project, distinct_id=f"u{n}", event_id=new_event_id())
        for n in range(30)
    ]
    touched = stream.append(
        [encode_envelope(e) for e in envelopes], rate_key=None, limit=0, window=1
    )
    assert touched  # the flags this append set; no drain is published for them
    assert drain_overdue_streams() == []  # too young, and the flags are still set
    time.sleep(max(2.5, settings.EVENTS_DRAIN_FLAG_SECONDS + 0.5))  # flags expired
    scheduled = drain_overdue_streams()
    assert sorted(scheduled) == sorted(touched)
    assert drain_overdue_streams() == []  # scheduled: no second drain per stream
    records = kafka_tap.collect(
        project_id=project, event_ids={e.event_id for e in envelopes}, timeout=60
    )
    assert {record["event_id"] for _, record in records} == {e.event_id for e in envelopes}
