"""Deleting a user's events (``POST /api/v1/deletions``, ``manage.py delete_user``) against
the real services: every stored rollup equals an independent computation over the
events that remain, with the events still on their way, a replay, and a deletion
interrupted mid-run and redone."""

from __future__ import annotations

import datetime as dt
import json
import random
import time
import uuid

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from kafka import KafkaProducer
from rest_framework.test import APIClient

from events.envelope import Envelope
from insights.aggregation import run_aggregation
from insights.models import Deletion
from spark.driver_batch import CqlStore
from spark.schema import Category
from tests.insights.known_answer import expected_rollups, stored_event_ids, stored_rollups

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "cassandra"], transaction=True),
]

# Two days and a half across a month's end: hour, day and month rollups of two months.
START = dt.datetime(2026, 10, 31, 6, tzinfo=dt.UTC)
USERS = [f"user-{n}" for n in range(1, 9)]
DELETED = ["user-2", "user-5"]


def generate(count: int, *, rng: random.Random) -> list[dict]:
    events = []
    for _ in range(count):
        properties: dict = {"plan": rng.choice(["free", "pro"]), "amount": rng.randint(-50, 500)}
        if rng.random() < 0.4:
            properties["cart"] = {"items": rng.randint(1, 9)}
        events.append(
            {
                "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "name": rng.choice(["signup", "purchase"]),
                "category": rng.choice([Category.WEB.value, Category.MOBILE.value]),
                "distinct_id": rng.choice([*USERS, None]),
                "timestamp": START + dt.timedelta(seconds=rng.randint(0, 60 * 3600 - 1)),
                "properties": properties,
            }
        )
    return events


def produce(prefix: str, events: list[dict], project_id: str, *, received_at=None) -> None:
    """``events`` into the test's topics, received at ``received_at`` (default: their time)."""
    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, acks="all")
    for event in events:
        envelope = Envelope(
            project_id=project_id,
            received_at=received_at or event["timestamp"],
            source="native",
            context={},
            **event,
        )
        producer.send(f"{prefix}.{event['category']}", json.dumps(envelope.to_record()).encode())
    producer.flush(timeout=60)
    producer.close()


def master_client(keys: dict) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {keys['master_key']}")
    return client


def bucket_users_of(project_id: str) -> set[str]:
    session = connections["cassandra"].connection.session
    keyspace = connections["cassandra"].settings_dict["NAME"]
    rows = session.execute(
        f"SELECT distinct_id FROM {keyspace}.bucket_users WHERE project_id = %s ALLOW FILTERING",
        (project_id,),
    )
    return {row["distinct_id"] for row in rows}


def assert_exactly(project_id: str, remaining: list[dict]) -> None:
    """Every rollup row, and the stored event ids, are those of ``remaining`` alone."""
    assert stored_rollups(project_id) == expected_rollups(remaining)
    assert sorted(stored_event_ids(project_id)) == sorted(e["event_id"] for e in remaining)


@pytest.fixture
def aggregation_queue(settings) -> str:
    """The aggregation runs a deletion request queues go to a queue of this test's own."""
    settings.AGGREGATION_QUEUE = f"test-aggregation-{uuid.uuid4().hex[:8]}"
    return settings.AGGREGATION_QUEUE


@pytest.fixture
def stored(spark, topic_prefix, project_keys, aggregation_queue):
    """400 events of 8 users (and some anonymous ones) aggregated; (keys, events)."""
    events = generate(400, rng=random.Random(19))
    produce(topic_prefix, events, project_keys["project_id"])
    assert run_aggregation().events_written == 400
    assert stored_rollups(project_keys["project_id"]) == expected_rollups(events)
    return project_keys, events


def _queued_runs(queue: str) -> int:
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        return client.llen(queue)
    finally:
        client.close()


@pytest.mark.parametrize("path", ["driver", "spark"])
def test_deleting_users_corrects_every_rollup_exactly(
    stored, aggregation_queue, settings, monkeypatch, path
) -> None:
    from spark import deletion_job

    settings.DELETION_SPARK_PARTITIONS = 1 if path == "spark" else 10_000
    applied: list[int] = []
    real_apply = deletion_job.apply

    def counted_apply(*args, **kwargs) -> int:
        removed = real_apply(*args, **kwargs)
        applied.append(removed)
        return removed

    monkeypatch.setattr(deletion_job, "apply", counted_apply)
    keys, events = stored
    project_id = keys["project_id"]
    api = master_client(keys)
    answer = api.post("/api/v1/deletions", {"distinct_ids": DELETED}, format="json")
    assert answer.status_code == 202, answer.content
    deletion_id = answer.json()["id"]
    assert answer.json()["status"] == "pending"
    assert _queued_runs(aggregation_queue) == 1  # the request asked for a run

    run_aggregation()

    remaining = [e for e in events if e["distinct_id"] not in DELETED]
    gone = len(events) - len(remaining)
    assert gone > 60
    assert applied == ([gone] if path == "spark" else [])  # the executors removed them all
    assert_exactly(project_id, remaining)
    assert bucket_users_of(project_id) == set(USERS) - set(DELETED)
    shown = api.get(f"/api/v1/deletions/{deletion_id}").json()
    assert shown["status"] == "succeeded"
    assert shown["removed"]["events"] == gone
    assert shown["removed"]["rollup_rows_corrected"] > 0
    assert shown["requested_by"].startswith("master key")
    assert shown["distinct_ids"] == sorted(DELETED)
    # another run, and a replay of everything from offset 0, bring nobody back
    assert run_aggregation(replay_from_offset=0).events_written == 0
    assert_exactly(project_id, remaining)


def test_a_deletion_of_one_event_name_in_a_timeframe(stored) -> None:
    keys, events = stored
    start, end = START + dt.timedelta(hours=20), START + dt.timedelta(hours=41)
    body = {
        "distinct_ids": ["user-3"],
        "event": "purchase",
        "timeframe": {"start": start.isoformat(), "end": end.isoformat()},
    }
    assert master_client(keys).post("/api/v1/deletions", body, format="json").status_code == 202
    run_aggregation()

    def deleted(e: dict) -> bool:
        return (
            e["distinct_id"] == "user-3"
            and e["name"] == "purchase"
            and start <= e["timestamp"] < end
        )

    assert any(deleted(e) for e in events)
    assert_exactly(keys["project_id"], [e for e in events if not deleted(e)])


@pytest.mark.parametrize("driver_read_max_records", [20_000, 0], ids=["driver", "spark"])
def test_events_on_their_way_are_deleted_and_later_ones_kept(
    stored, topic_prefix, settings, driver_read_max_records
) -> None:
    """Events of the user received before the request but aggregated after it are
    dropped (ids kept as tombstones); events received after it count."""
    settings.AGGREGATION_DRIVER_READ_MAX_RECORDS = driver_read_max_records
    keys, events = stored
    project_id = keys["project_id"]
    assert (
        master_client(keys)
        .post("/api/v1/deletions", {"distinct_ids": ["user-4"]}, format="json")
        .status_code
        == 202
    )
    deletion = Deletion.objects.get(project_id=project_id)
    late = [
        {**e, "event_id": str(uuid.uuid4()), "distinct_id": "user-4"}
        for e in generate(30, rng=random.Random(4))
    ]
    on_their_way, after = late[:20], late[20:]
    produce(topic_prefix, on_their_way, project_id)  # received at their (past) time
    produce(topic_prefix, after, project_id, received_at=deletion.requested_at + dt.timedelta(0, 1))
    others = generate(25, rng=random.Random(5))
    produce(topic_prefix, others, project_id)

    run = run_aggregation()
    assert run.deleted == 20 + sum(e["distinct_id"] == "user-4" for e in others)

    remaining = [e for e in events + others if e["distinct_id"] != "user-4"] + after
    assert_exactly(project_id, remaining)
    deletion.refresh_from_db()
    assert deletion.status == Deletion.Status.SUCCEEDED
    assert deletion.events_deleted == sum(e["distinct_id"] == "user-4" for e in events)
    # a replay finds the dropped events' ids stored: they stay out
    assert run_aggregation(replay_from_offset=0).events_written == 0
    assert_exactly(project_id, remaining)


@pytest.mark.parametrize("fault_table", ["raw_events", "bucket_users", "rollups"])
def test_a_deletion_interrupted_mid_run_is_redone_exactly(
    stored, topic_prefix, monkeypatch, fault_table
) -> None:
    """The deletion fails on its third write to ``fault_table`` (earlier partitions done,
    the current one half done); new events reach the same buckets before the next run,
    which redoes the deletion first and then aggregates them: every number is exact."""
    keys, events = stored
    project_id = keys["project_id"]
    real_delete, real_write = CqlStore.delete, CqlStore.write
    calls = {"n": 0, "hit": False}

    def failing(method):
        def call(self, rows, *, table, **kwargs):
            if table == fault_table and rows:
                calls["n"] += 1
                if calls["n"] == 3:
                    calls["hit"] = True
                    method(self, rows[: len(rows) // 2], table=table, **kwargs)
                    raise ConnectionError(f"injected: Cassandra went away writing {table}")
            return method(self, rows, table=table, **kwargs)

        return call

    monkeypatch.setattr(CqlStore, "delete", failing(real_delete))
    monkeypatch.setattr(CqlStore, "write", failing(real_write))
    call_command("delete_user", *DELETED, project=project_id)
    with pytest.raises(ConnectionError, match="injected"):
        run_aggregation()
    assert calls["hit"]
    deletion = Deletion.objects.get(project_id=project_id)
    assert deletion.status == Deletion.Status.FAILED
    assert "injected" in deletion.error
    assert stored_rollups(project_id) != expected_rollups(events)  # it was mid-way
    monkeypatch.setattr(CqlStore, "delete", real_delete)
    monkeypatch.setattr(CqlStore, "write", real_write)

    newer = [e for e in generate(40, rng=random.Random(7)) if e["distinct_id"] not in DELETED]
    produce(topic_prefix, newer, project_id)
    assert run_aggregation().events_written == len(newer)

    deletion.refresh_from_db()
    assert (deletion.status, deletion.attempts) == (Deletion.Status.SUCCEEDED, 2)
    remaining = [e for e in events if e["distinct_id"] not in DELETED] + newer
    assert_exactly(project_id, remaining)
    assert deletion.events_deleted == len(events) + len(newer) - len(remaining)


def _indexed(project_id: str, users: list[str]) -> int:
    session = connections["cassandra"].connection.session
    keyspace = connections["cassandra"].settings_dict["NAME"]
    return sum(
        session.execute(
            f"SELECT count(*) AS n FROM {keyspace}.user_events "
            "WHERE project_id = %s AND distinct_id = %s",
            (project_id, user),
        ).one()["n"]
        for user in users
    )


def test_a_spark_deletion_cancelled_mid_write_is_redone_exactly(
    spark, topic_prefix, project_keys, aggregation_queue, settings
) -> None:
    """A users' deletion over 120 raw-event partitions runs as a Spark job; its jobs are
    cancelled (what losing the lease does) once some partitions are written. The next
    run redoes it: every rollup row and stored id is exact, with the full counts."""
    import threading

    settings.DELETION_SPARK_PARTITIONS = 1
    project_id = project_keys["project_id"]
    rng = random.Random(23)
    events = [
        {**e, "timestamp": START - dt.timedelta(seconds=rng.randint(1, 60 * 86_400))}
        for e in generate(12_000, rng=rng)
    ]
    produce(topic_prefix, events, project_id)
    assert run_aggregation().events_written == len(events)
    targets = sum(e["distinct_id"] in DELETED for e in events)
    assert _indexed(project_id, DELETED) == targets

    call_command("delete_user", *DELETED, project=project_id)
    seen: dict[str, int] = {}

    def cancel_mid_way() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            left = _indexed(project_id, DELETED)
            if left < targets:  # some partitions written, and (mostly) not all
                spark.sparkContext.cancelAllJobs()
                seen["left"] = left
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=cancel_mid_way)
    watcher.start()
    with pytest.raises(Exception, match="cancel"):
        run_aggregation()
    watcher.join()
    time.sleep(2)  # writes already on the wire land
    after = _indexed(project_id, DELETED)
    print(f"\ntarget events indexed at the cancel: {seen['left']}, after it: {after}")
    assert 0 < after <= seen["left"] < targets  # it hit the deletion mid-way
    deletion = Deletion.objects.get(project_id=project_id)
    assert deletion.status == Deletion.Status.FAILED

    run_aggregation()
    deletion.refresh_from_db()
    assert (deletion.status, deletion.attempts) == (Deletion.Status.SUCCEEDED, 2)
    assert deletion.events_deleted == targets
    assert_exactly(project_id, [e for e in events if e["distinct_id"] not in DELETED])


def test_bad_requests_name_the_field_and_a_read_key_is_refused(stored, settings) -> None:
    keys, _ = stored
    api = master_client(keys)
    settings.DELETION_MAX_USERS = 3
    answer = api.post("/api/v1/deletions", {"distinct_ids": list("abcd")}, format="json")
    assert answer.status_code == 400
    assert "distinct_ids" in answer.content.decode()
    assert "at most 3" in answer.content.decode()
    answer = api.post("/api/v1/deletions", {"distinct_ids": []}, format="json")
    assert answer.status_code == 400
    assert "distinct_ids" in answer.content.decode()
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {keys['read_key']}")
    assert reader.post("/api/v1/deletions", {"distinct_ids": ["a"]}, format="json").status_code in (
        401,
        403,
    )
    assert api.get("/api/v1/deletions/999999").status_code == 404
    assert not Deletion.objects.exists()


def _stored_ids(project: str, events: list[dict]) -> set[str]:
    session = connections["cassandra"].connection.session
    keyspace = connections["cassandra"].settings_dict["NAME"]
    partitions = {(e["name"], e["timestamp"].astimezone(dt.UTC).date()) for e in events}
    return {
        row["event_id"]
        for name, day in sorted(partitions)
        for row in session.execute(
            f"SELECT event_id FROM {keyspace}.raw_events "
            "WHERE project_id = %s AND name = %s AND day = %s",
            (project, name, day),
        )
    }


def test_a_deletion_killed_with_sigkill_mid_write_is_redone_exactly(
    topic_prefix: str, tmp_path
) -> None:
    """``manage.py delete_user --now`` is killed (SIGKILL) once part of the users' raw
    events are gone; the next ``manage.py aggregate`` redoes it: every number exact."""
    import os
    import signal
    import sqlite3

    from tests.insights import test_aggregation as agg

    project = uuid.uuid4().hex
    events = agg.generate(10_000, rng=random.Random(90), start=agg.START, hours=72)
    agg.produce(topic_prefix, events, project)
    env = agg._deployment_env(topic_prefix, str(tmp_path / "db.sqlite3"))
    assert agg._manage("migrate", "-v0", env=env).wait(timeout=120) == 0
    create = f"from events.models import Project; Project.objects.create(id='{project}', name='k')"
    assert agg._manage("shell", "-c", create, env=env).wait(timeout=120) == 0
    stored = agg._manage("aggregate", env=env)
    output, _ = stored.communicate(timeout=300)
    assert stored.returncode == 0, output
    users = [f"user-{n}" for n in range(1, 21)]
    targets = {e["event_id"] for e in events if e["distinct_id"] in users}
    assert len(targets) > 2000

    killed = agg._manage("delete_user", "--project", project, *users, "--now", env=env)
    deadline = time.monotonic() + 120
    while len(left := _stored_ids(project, events) & targets) == len(targets):
        assert killed.poll() is None, killed.communicate()[0]
        assert time.monotonic() < deadline, "no event deleted in 120s"
        time.sleep(0.01)
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        status_at_kill = db.execute("SELECT status FROM insights_deletion").fetchall()
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait(timeout=30)
    assert killed.returncode == -9
    time.sleep(2)  # writes already on the wire land
    after_kill = _stored_ids(project, events) & targets
    print(f"\ntarget events left at the kill: {len(left)}, after it: {len(after_kill)}")
    assert 0 < len(after_kill) <= len(left) < len(targets)  # it hit the deletion mid-way
    assert status_at_kill == [("running",)]

    redo = agg._manage("aggregate", env=env)
    output, _ = redo.communicate(timeout=300)
    assert redo.returncode == 0, output
    remaining = [e for e in events if e["distinct_id"] not in users]
    assert_exactly(project, remaining)
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        row = db.execute(
            "SELECT status, attempts, events_deleted FROM insights_deletion"
        ).fetchone()
    assert row == ("succeeded", 2, len(targets))


@pytest.mark.parametrize("driver_read_max_records", [20_000, 0], ids=["driver", "spark"])
def test_a_suppressing_deletion_drops_the_users_later_events_too(
    stored, topic_prefix, settings, driver_read_max_records
) -> None:
    settings.AGGREGATION_DRIVER_READ_MAX_RECORDS = driver_read_max_records
    keys, events = stored
    project_id = keys["project_id"]
    body = {"distinct_ids": ["user-6"], "suppress": True}
    answer = master_client(keys).post("/api/v1/deletions", body, format="json")
    assert answer.status_code == 202
    assert answer.json()["suppress"] is True
    run_aggregation()
    deletion = Deletion.objects.get(project_id=project_id)
    later = [
        {**e, "event_id": str(uuid.uuid4()), "distinct_id": "user-6"}
        for e in generate(15, rng=random.Random(6))
    ]
    others = [e for e in generate(20, rng=random.Random(8)) if e["distinct_id"] != "user-6"]
    produce(topic_prefix, later, project_id, received_at=deletion.requested_at + dt.timedelta(0, 5))
    produce(topic_prefix, others, project_id)
    run = run_aggregation()
    assert (run.deleted, run.events_written) == (15, len(others))
    remaining = [e for e in events + others if e["distinct_id"] != "user-6"]
    assert_exactly(project_id, remaining)

    Deletion.objects.filter(pk=deletion.pk).update(suppress=False)  # the admin's action
    again = [{**e, "event_id": str(uuid.uuid4())} for e in later[:3]]
    produce(topic_prefix, again, project_id, received_at=dt.datetime.now(dt.UTC))
    assert run_aggregation().events_written == 3
    assert_exactly(project_id, remaining + again)
