"""One aggregation at a time, really: a run stalled past its lock's TTL is fenced.

``manage.py aggregate`` runs as a subprocess on real Kafka, Spark, Cassandra, Redis
and an SQLite database file; the whole process group (Python and its Spark JVM) is
stopped with SIGSTOP mid-write, a newer run takes over, and the stale run is resumed.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from tests.insights.known_answer import expected_rollups, stored_event_ids, stored_rollups
from tests.insights.test_aggregation import (
    START,
    _deployment_env,
    _manage,
    _raw_event_count,
    generate,
    produce,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "cassandra"])]

TTL_SECONDS = 5  # the stalled run's lock TTL; the newer run keeps the default (30 s)


def _query(db_path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db_path) as db:
        return db.execute(sql).fetchall()


def test_a_run_stalled_past_its_ttl_is_fenced_and_every_number_stays_exact(
    topic_prefix: str, tmp_path: Path
) -> None:
    project = uuid.uuid4().hex
    rng = random.Random(21)
    first = generate(10_000, rng=rng, start=START, hours=72)
    produce(topic_prefix, first, project)
    db_path = tmp_path / "db.sqlite3"
    env = _deployment_env(topic_prefix, str(db_path))
    assert _manage("migrate", "-v0", env=env).wait(timeout=120) == 0

    stale = _manage("aggregate", env=env | {"AGGREGATION_LOCK_TTL_SECONDS": str(TTL_SECONDS)})
    try:
        assert stale.stdout is not None  # _manage pipes stdout
        lines = []
        for line in stale.stdout:
            lines.append(line)
            if "new events" in line:  # the raw-event write is about to start
                break
        deadline = time.monotonic() + 120
        while _raw_event_count(project, first) == 0:
            assert stale.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.02)
        os.killpg(stale.pid, signal.SIGSTOP)  # the process stalls: Python and its Spark JVM
        time.sleep(1)  # writes already on the wire land
        # It stalled mid-run: running, its raw events part-written, no rollups yet.
        assert _query(db_path, "SELECT status, batch_id FROM insights_jobrun") == [("running", 1)]
        assert 0 < _raw_event_count(project, first) <= len(first)
        assert stored_rollups(project) == {}

        # More events for the same buckets: the newer run aggregates them as a second
        # batch after redoing the stalled one, so the stale run's late rollup merge
        # would meet rows of a later batch.
        second = generate(500, rng=rng, start=START, hours=72)
        produce(topic_prefix, second, project)
        time.sleep(TTL_SECONDS + 1)  # the stalled run's lock expires

        newer = _manage("aggregate", env=env)
        output, _ = newer.communicate(timeout=600)
        assert newer.returncode == 0, output
        everything = first + second
        assert stored_rollups(project) == expected_rollups(everything)
        offsets = _query(db_path, "SELECT topic, partition, offset FROM insights_kafkaoffset")
        assert sum(offset for *_, offset in offsets) == len(everything)

        os.killpg(stale.pid, signal.SIGCONT)  # the stale run resumes where it stalled
        stale_output, _ = stale.communicate(timeout=300)
    finally:
        if stale.poll() is None:
            os.killpg(stale.pid, signal.SIGKILL)
            stale.wait(timeout=30)
    stale_output = "".join(lines) + stale_output
    assert stale.returncode == 1, stale_output
    assert "fenced" in stale_output, stale_output

    time.sleep(2)  # anything the stale run still had on the wire has landed
    assert stored_rollups(project) == expected_rollups(everything)
    assert sorted(stored_event_ids(project)) == sorted(e["event_id"] for e in everything)
    # Its offsets were never committed: they are the newer run's.
    assert _query(db_path, "SELECT topic, partition, offset FROM insights_kafkaoffset") == offsets
    runs = _query(
        db_path, "SELECT trigger, status, batch_id, records_read FROM insights_jobrun ORDER BY id"
    )
    assert runs[1:] == [("retry", "succeeded", 1, 10_000), ("manual", "succeeded", 3, 500)]
    assert runs[0][:3] == ("manual", "failed", 1)
    (error,) = _query(db_path, "SELECT error FROM insights_jobrun WHERE id = 1")[0]
    assert error.startswith("LeaseLost: fenced"), error
