"""The analytics engine end to end, on real Kafka, Spark, Cassandra, Redis and Celery.

Events go through the ingestion API and a Celery worker into Kafka, the Spark job
aggregates them into Cassandra, and the stored rollups must equal a known answer
computed independently in Python, before and after duplicates, late events, reruns,
replays and a job killed mid-run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from kafka import KafkaProducer
from pyspark.sql import SparkSession
from pytest_django.fixtures import Settings

from events.envelope import Envelope
from events.topics import event_topics
from insights.aggregation import run_aggregation
from insights.lease import AggregationBusy, exclusive_run
from insights.models import JobRun
from spark.offsets import plan_range
from spark.schema import Category, Table
from tests.conftest import REPO_ROOT, WorkerProcess
from tests.insights.known_answer import expected_rollups, stored_event_ids, stored_rollups

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "cassandra"])]

NAMES = ("purchase", "signup")
START = dt.datetime(2026, 10, 30, tzinfo=dt.UTC)  # buckets across a month end


def generate(count: int, *, rng: random.Random, start: dt.datetime, hours: int) -> list[dict]:
    """``count`` native events with explicit ids, spread over ``hours`` from ``start``."""
    events = []
    for _ in range(count):
        properties: dict = {"plan": rng.choice(["free", "pro"])}
        if rng.random() < 0.8:
            properties["amount"] = round(rng.uniform(-5, 500), 2)
        if rng.random() < 0.3:
            properties["cart"] = {"items": rng.randint(1, 9), "coupon": "12"}
        events.append(
            {
                "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "name": rng.choice(NAMES),
                "category": rng.choice([Category.WEB.value, Category.MOBILE.value]),
                "distinct_id": rng.choice([f"user-{rng.randint(1, 40)}", None]),
                "timestamp": start + dt.timedelta(seconds=rng.randint(0, hours * 3600 - 1)),
                "properties": properties,
            }
        )
    return events


def as_native(event: dict) -> dict:
    return {**event, "timestamp": event["timestamp"].isoformat()}


def post_batches(client: Client, write_key: str, events: list[dict], size: int = 100) -> None:
    for start in range(0, len(events), size):
        body = {"batch": [as_native(e) for e in events[start : start + size]]}
        response = client.post(
            "/api/v1/events",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {write_key}",
        )
        assert response.status_code == 202, response.content
        assert response.json()["accepted"] == len(body["batch"])


def wait_for_records(expected: int, timeout: float = 60) -> None:
    """Wait until this test's topics hold ``expected`` records in all."""
    deadline = time.monotonic() + timeout
    while True:
        offsets = plan_range(
            bootstrap=settings.KAFKA_BOOTSTRAP_SERVERS, topics=event_topics(), committed={}
        )
        if offsets.records >= expected or time.monotonic() > deadline:
            assert offsets.records == expected
            return
        time.sleep(0.5)


def test_api_to_rollups_exact_with_duplicates_late_events_and_reruns(
    spark: SparkSession, project_keys: dict[str, str], forwarding_worker: WorkerProcess
) -> None:
    rng = random.Random(5)
    client = Client()
    project = project_keys["project_id"]
    first = generate(600, rng=rng, start=START + dt.timedelta(days=1), hours=48)
    duplicates = rng.sample(first, 60)
    post_batches(client, project_keys["write_key"], first + duplicates)
    wait_for_records(660)

    run = run_aggregation()
    assert (run.status, run.records_read, run.events_written, run.duplicates, run.invalid) == (
        JobRun.Status.SUCCEEDED,
        660,
        600,
        60,
        0,
    )
    assert stored_rollups(project) == expected_rollups(first)

    # Late events land in buckets already computed; more copies of old events arrive.
    late = generate(150, rng=rng, start=START, hours=30)
    post_batches(client, project_keys["write_key"], late + rng.sample(first, 40))
    wait_for_records(660 + 190)
    run = run_aggregation()
    assert (run.records_read, run.events_written, run.duplicates) == (190, 150, 40)
    everything = first + late
    assert stored_rollups(project) == expected_rollups(everything)
    assert sorted(stored_event_ids(project)) == sorted(e["event_id"] for e in everything)

    # Nothing new: nothing read. A full replay rereads everything and changes nothing.
    assert run_aggregation().records_read == 0
    replay = run_aggregation(trigger=JobRun.Trigger.REPLAY, replay_from_offset=0)
    assert (replay.records_read, replay.events_written) == (850, 0)
    assert stored_rollups(project) == expected_rollups(everything)


def produce(prefix: str, events: list[dict], project_id: str, extra: Sequence[bytes] = ()) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, acks="all")
    for event in events:
        envelope = Envelope(
            project_id=project_id,
            received_at=event["timestamp"],
            source="native",
            context={},
            **event,
        )
        producer.send(f"{prefix}.{event['category']}", json.dumps(envelope.to_record()).encode())
    for value in extra:
        producer.send(f"{prefix}.other", value)
    producer.flush(timeout=60)
    producer.close()


@pytest.mark.parametrize(
    ("driver_read_max_records", "driver_read_max_bytes"),
    [(20_000, 64 << 20), (0, 64 << 20), (20_000, 1000)],
    ids=["driver-read", "spark-source", "spark-source-past-the-byte-bound"],
)
def test_invalid_records_go_to_the_dlq_and_the_rest_is_counted(
    spark: SparkSession,
    topic_prefix: str,
    settings: Settings,
    driver_read_max_records: int,
    driver_read_max_bytes: int,
) -> None:
    """Both ways of reading Kafka (small runs on the driver, big ones, by count or by
    bytes, through Spark's Kafka source) give the same result."""
    settings.AGGREGATION_DRIVER_READ_MAX_RECORDS = driver_read_max_records
    settings.AGGREGATION_DRIVER_READ_MAX_BYTES = driver_read_max_bytes
    project = uuid.uuid4().hex
    events = generate(30, rng=random.Random(2), start=START, hours=3)
    produce(topic_prefix, events, project, extra=[b"not json", b'{"event_id": "x"}'])
    run = run_aggregation()
    assert (run.records_read, run.invalid, run.events_written) == (32, 2, 30)
    assert stored_rollups(project) == expected_rollups(events)

    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        f"{topic_prefix}.dlq",
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    dead = sorted(json.loads(m.value)["reason"] for m in consumer)
    consumer.close()
    assert dead == ["missing or invalid: project_id, name, event_time", "not a JSON event envelope"]


def test_a_warm_session_aggregates_after_cassandra_restarts(
    spark: SparkSession, topic_prefix: str
) -> None:
    """The aggregation worker keeps its SparkSession (and the connector's Cassandra pool)
    between runs; a Cassandra restart while it is idle must not fail the next run."""
    from tests.conftest import run_stack

    project = uuid.uuid4().hex
    first = generate(20, rng=random.Random(7), start=START, hours=2)
    produce(topic_prefix, first, project)
    assert run_aggregation().status == JobRun.Status.SUCCEEDED  # the pool is now warm
    for step in ("stop", "start"):
        done = run_stack(step, "cassandra")
        assert done.returncode == 0, done.stdout + done.stderr
    more = generate(20, rng=random.Random(8), start=START, hours=2)
    produce(topic_prefix, more, project)
    run = run_aggregation()
    assert (run.status, run.events_written) == (JobRun.Status.SUCCEEDED, 20)
    # The app's own driver (the query API's) is back within seconds too, not the
    # driver's default of up to 10 minutes between attempts.
    assert _seconds_until_the_app_driver_answers(limit=15) < 15
    assert stored_rollups(project) == expected_rollups(first + more)


def _seconds_until_the_app_driver_answers(*, limit: float) -> float:
    """Seconds until the Django Cassandra session answers a query (at most ``limit``)."""
    from cassandra.cluster import NoHostAvailable

    session = connections["cassandra"].connection.session
    started = time.monotonic()
    while (waited := time.monotonic() - started) < limit:
        try:
            session.execute("SELECT release_version FROM system.local")
            return waited
        except NoHostAvailable:
            time.sleep(0.25)
    return limit


def test_one_run_at_a_time(topic_prefix: str) -> None:
    with exclusive_run(), pytest.raises(AggregationBusy):
        run_aggregation()


def _deployment_env(prefix: str, db_path: str) -> dict[str, str]:
    return {
        "KAFKA_TOPIC_PREFIX": prefix,
        "CASSANDRA_KEYSPACE": connections["cassandra"].settings_dict["NAME"],
        "DATABASE_URL": f"sqlite:///{db_path}",
        "DJANGO_SETTINGS_MODULE": "analytics_site.settings",
    }


def _manage(*args: str, env: dict[str, str], **kwargs: Any) -> subprocess.Popen[str]:

    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        **kwargs,
    )


def _raw_event_count(project: str, events: list[dict]) -> int:
    """Raw-event rows stored for ``project``: a count over exactly its partitions."""
    session = connections["cassandra"].connection.session
    keyspace = connections["cassandra"].settings_dict["NAME"]
    partitions = {(e["name"], e["timestamp"].astimezone(dt.UTC).date()) for e in events}
    return sum(
        session.execute(
            f"SELECT count(*) AS n FROM {keyspace}.{Table.RAW_EVENTS} "
            "WHERE project_id = %s AND name = %s AND day = %s",
            (project, name, day),
        ).one()["n"]
        for name, day in sorted(partitions)
    )


def test_a_run_killed_mid_write_is_rerun_to_exact_numbers(
    topic_prefix: str, tmp_path: Path
) -> None:
    project = uuid.uuid4().hex
    events = generate(10_000, rng=random.Random(9), start=START, hours=72)
    produce(topic_prefix, events, project)
    env = _deployment_env(topic_prefix, str(tmp_path / "db.sqlite3"))
    assert _manage("migrate", "-v0", env=env).wait(timeout=120) == 0

    killed = _manage("aggregate", env=env)
    killed_stdout = killed.stdout
    assert killed_stdout is not None  # _manage pipes stdout
    lines = []
    for line in killed_stdout:
        lines.append(line)
        if "new events" in line:  # the raw-event write is about to start
            break
    # Keep draining its output, so a full pipe never stalls the write being watched.
    threading.Thread(target=lambda: lines.extend(killed_stdout), daemon=True).start()
    deadline = time.monotonic() + 120
    while (written := _raw_event_count(project, events)) == 0:
        assert killed.poll() is None, "".join(lines)
        assert time.monotonic() < deadline, "no raw event written in 120s"
        time.sleep(0.02)
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        status_at_kill = db.execute("SELECT status FROM insights_jobrun").fetchall()
    os.killpg(killed.pid, signal.SIGKILL)  # the process and its Spark JVM, mid-write
    killed.wait(timeout=30)
    assert killed.returncode == -9, "".join(lines)
    # The kill hit the batch part-way: some raw events stored, not all, no rollups yet.
    time.sleep(2)  # writes already on the wire land
    after_kill = _raw_event_count(project, events)
    print(f"\nraw events stored at the kill: {written}, after it: {after_kill} of {len(events)}")
    assert 0 < written <= after_kill < len(events), (written, after_kill)
    assert stored_rollups(project) == {}
    assert status_at_kill == [("running",)]

    rerun = _manage("aggregate", env=env)
    output, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, output
    assert stored_rollups(project) == expected_rollups(events)
    assert sorted(stored_event_ids(project)) == sorted(e["event_id"] for e in events)

    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        runs = db.execute(
            "SELECT trigger, status, batch_id, records_read FROM insights_jobrun ORDER BY id"
        ).fetchall()
    # The killed batch is redone under its own id, then the rerun finds nothing new.
    assert runs == [
        ("manual", "abandoned", 1, 0),
        ("retry", "succeeded", 1, 10_000),
        ("manual", "succeeded", 3, 0),
    ]


def test_beat_schedules_runs_on_a_warm_worker(topic_prefix: str, tmp_path: Path) -> None:
    """Celery beat (django-celery-beat's schedule from the migration) triggers the task
    on a dedicated aggregation worker, which keeps its SparkSession between runs."""
    queue = f"test-aggregation-{uuid.uuid4().hex[:8]}"
    env = _deployment_env(topic_prefix, str(tmp_path / "db.sqlite3"))
    env |= {"AGGREGATION_QUEUE": queue, "AGGREGATION_INTERVAL_SECONDS": "2"}
    assert _manage("migrate", "-v0", env=env).wait(timeout=120) == 0
    worker = WorkerProcess(queue, env=env, pool="prefork")
    worker.start()

    beat = subprocess.Popen(
        [
            sys.executable,
            *("-m", "celery", "-A", "analytics_site", "beat", "--loglevel", "WARNING"),
            *("--schedule", str(tmp_path / "beat-schedule")),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        start_new_session=True,
    )
    try:
        rng = random.Random(3)
        project = uuid.uuid4().hex
        batches = [generate(50, rng=rng, start=START, hours=5) for _ in range(2)]
        for number, batch in enumerate(batches, start=1):
            produce(topic_prefix, batch, project)
            expected = expected_rollups([e for b in batches[:number] for e in b])
            deadline = time.monotonic() + 180
            while stored_rollups(project) != expected:
                assert time.monotonic() < deadline, "beat-triggered runs never caught up"
                time.sleep(1)

        def finished_runs() -> list[tuple[str, str, int]]:
            with sqlite3.connect(tmp_path / "db.sqlite3") as db:
                return db.execute(
                    "SELECT trigger, status, records_read FROM insights_jobrun"
                    " WHERE records_read > 0"
                ).fetchall()

        # Rollups are visible before the run that wrote them saves its JobRun (monthly
        # rollups are derived in between), so the record is waited for too.
        deadline = time.monotonic() + 60
        runs = finished_runs()
        while sum(r[2] for r in runs) < 100 and time.monotonic() < deadline:
            time.sleep(0.5)
            runs = finished_runs()
        assert sum(r[2] for r in runs) == 100
        assert {(r[0], r[1]) for r in runs} == {("schedule", "succeeded")}
    finally:
        beat.terminate()
        beat.wait(timeout=30)
        worker.stop()
