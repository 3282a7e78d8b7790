"""Faults under a steady load: Kafka, Redis, Cassandra, a Celery worker, the Spark job and a
web instance are each taken down and brought back in turn. Every accepted event is
counted exactly once in the final rollups; no 2xx is ever given for an event later lost.

The deployment is real and local: two gunicorn instances behind nginx (TLS), a
forwarding worker, the aggregation worker (warm Spark) driven by Celery beat.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import WorkerProcess, run_stack
from tests.scaleout.stack import WebTier, manage, post_events, production_env

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "cassandra"]),
]

REPO = Path(__file__).resolve().parents[2]
EVENT_NAME = "fault"
EVENTS_PER_REQUEST = 10


class SteadyClient(threading.Thread):
    """Posts a batch every ``pause`` seconds, like an SDK: an answer other than 202
    (503, 5xx, a dropped connection) means "not accepted", so the same batch (same
    event ids) is sent again until it is accepted."""

    def __init__(self, port: int, key: str, pause: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.port, self.key, self.pause = port, key, pause
        self.accepted: set[str] = set()
        self.statuses: Counter = Counter()
        self.requests = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        number = 0
        while not self.stopping.is_set():
            ids = [f"f-{number}-{i}-{uuid.uuid4().hex[:6]}" for i in range(EVENTS_PER_REQUEST)]
            body = json.dumps({"batch": [{"name": EVENT_NAME, "event_id": e} for e in ids]})
            while True:
                status = post_events(self.port, self.key, body, timeout=30)
                self.requests += 1
                self.statuses[status] += 1
                if status == 202:
                    self.accepted.update(ids)
                    break
                time.sleep(0.5)
            number += 1
            time.sleep(self.pause)


def _counted(project_id: str) -> int:
    """Events counted in the hourly rollups (category "all") of ``project_id``; -1 while
    the driver is still reconnecting after Cassandra's restart."""
    from cassandra import DriverException
    from django.db import connections

    session = connections["cassandra"].connection.session
    keyspace = connections["cassandra"].settings_dict["NAME"]
    period = datetime.now(UTC).strftime("%Y-%m")
    try:
        rows = session.execute(
            f"SELECT category, count FROM {keyspace}.rollups WHERE project_id = %s AND name = %s "
            "AND metric = 'events' AND granularity = 'hour' AND period = %s",
            (project_id, EVENT_NAME, period),
        )
    except DriverException:
        return -1
    return sum(row["count"] for row in rows if row["category"] == "all")


def _down_and_up(name: str, stop, start, log: list[str], seconds: float = 4) -> None:
    started = time.monotonic()
    stop()
    time.sleep(seconds)
    start()
    log.append(f"{name}: down and back in {time.monotonic() - started:.0f}s")
    time.sleep(seconds)


def _stack(action: str, service: str) -> None:
    result = run_stack(action, service)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def deployment(tmp_path, topic_prefix, unique_name):
    env = production_env(
        tmp_path / "db.sqlite3",
        queue=unique_name,
        KAFKA_TOPIC_PREFIX=topic_prefix,
        AGGREGATION_QUEUE=f"{unique_name}-aggregation",
        AGGREGATION_INTERVAL_SECONDS="3",
    )
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    return env


def test_every_accepted_event_is_counted_once_through_every_fault(tmp_path, deployment) -> None:
    env = deployment
    keys = json.loads(manage(env, "createproject", "Faults", "--json"))
    forwarder = WorkerProcess(env["CELERY_DEFAULT_QUEUE"], env=env)
    aggregator = WorkerProcess(env["AGGREGATION_QUEUE"], env=env, pool="prefork")
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "analytics_site", "beat", "--loglevel", "WARNING",
         "--schedule", str(tmp_path / "beat-schedule")],
        cwd=REPO, env=env, start_new_session=True,
    )  # fmt: skip
    forwarder.start()
    aggregator.start()
    log: list[str] = []
    try:
        with WebTier(tmp_path, env) as tier:
            client = SteadyClient(tier.port, keys["write_key"])
            client.start()
            time.sleep(5)
            for service in ("kafka", "redis", "cassandra"):
                _down_and_up(
                    service,
                    lambda s=service: _stack("stop", s),
                    lambda s=service: _stack("start", s),
                    log,
                )
            _down_and_up("celery worker", forwarder.kill, forwarder.start, log)
            _down_and_up("spark job (aggregation worker)", aggregator.kill, aggregator.start, log)
            _down_and_up("web instance", lambda: tier.kill(0), lambda: tier.restart(0), log)
            client.stopping.set()
            client.join(timeout=120)
            assert not client.is_alive()

        accepted = len(client.accepted)
        deadline = time.monotonic() + 300
        counted = _counted(keys["project_id"])
        while counted != accepted and time.monotonic() < deadline:
            assert counted < accepted, f"counted {counted} > accepted {accepted}: double count"
            time.sleep(2)
            counted = _counted(keys["project_id"])
    finally:
        beat.terminate()
        beat.wait(timeout=30)
        forwarder.stop()
        aggregator.stop()
    statuses = {str(k): v for k, v in client.statuses.items()}
    print("\n" + "\n".join(log))
    print(
        f"tally: requests sent {client.requests}, answers {statuses}; "
        f"events sent {accepted}, accepted {accepted}, counted {counted}"
    )
    assert counted == accepted
    assert accepted >= 50 * EVENTS_PER_REQUEST
    assert not any(str(status).startswith("5") and status != 503 for status in client.statuses)
