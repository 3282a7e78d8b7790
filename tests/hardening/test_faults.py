"""Faults under a steady load: Kafka, Redis, Cassandra, a Celery worker, the Spark job and a
web instance are each taken down and brought back in turn. Every accepted event is
counted exactly once in the final rollups; no 2xx is ever given for an event later lost.

The deployment is real and local: two gunicorn instances behind nginx (TLS), a
forwarding worker, the aggregation worker (warm Spark) driven by Celery beat.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.localstack.install import nginx_binary
from tests.conftest import WorkerProcess, run_stack
from tests.scaleout.stack import (
    free_port,
    manage,
    nginx_conf,
    production_env,
    start_web,
    wait_for_port,
)

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

    def _send(self, body: str) -> int | str:
        context = ssl._create_unverified_context()  # the test's self-signed certificate
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=context, timeout=30
        )
        try:
            connection.request(
                "POST",
                "/api/v1/events",
                body,
                {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
            )
            return connection.getresponse().status
        except OSError as exc:
            return type(exc).__name__
        finally:
            connection.close()

    def run(self) -> None:
        number = 0
        while not self.stopping.is_set():
            ids = [f"f-{number}-{i}-{uuid.uuid4().hex[:6]}" for i in range(EVENTS_PER_REQUEST)]
            body = json.dumps({"batch": [{"name": EVENT_NAME, "event_id": e} for e in ids]})
            while True:
                status = self._send(body)
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
def deployment(tmp_path, services_up, unique_name, settings):
    from events.kafka_topics import TopicPlan, ensure_topics

    prefix = f"{unique_name}.events"
    settings.KAFKA_TOPIC_PREFIX = prefix
    ensure_topics(TopicPlan(partitions=3, replication_factor=1, min_insync_replicas=1))
    env = production_env(
        tmp_path / "db.sqlite3",
        queue=unique_name,
        KAFKA_TOPIC_PREFIX=prefix,
        AGGREGATION_QUEUE=f"{unique_name}-aggregation",
        AGGREGATION_INTERVAL_SECONDS="3",
    )
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    return env


def test_every_accepted_event_is_counted_once_through_every_fault(tmp_path, deployment) -> None:
    env = deployment
    nginx = nginx_binary()
    assert nginx, "nginx is missing: run `make install`"
    keys = json.loads(manage(env, "createproject", "Faults", "--json"))
    web_ports = [free_port(), free_port()]
    webs = [start_web(env, port, tmp_path / f"web-{port}.log") for port in web_ports]
    lb_port = free_port()
    balancer = subprocess.Popen(
        [nginx, "-c", str(nginx_conf(tmp_path, lb_port, web_ports)), "-g", "daemon off;"]
    )
    forwarder = WorkerProcess(env["CELERY_DEFAULT_QUEUE"], env=env)
    aggregator = WorkerProcess(env["AGGREGATION_QUEUE"], env=env, pool="prefork")
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "analytics_site", "beat", "--loglevel", "WARNING",
         "--schedule", str(tmp_path / "beat-schedule")],
        cwd=REPO, env=env, start_new_session=True,
    )  # fmt: skip
    forwarder.start()
    aggregator.start()
    client = SteadyClient(lb_port, keys["write_key"])
    log: list[str] = []
    try:
        for port, process in zip(web_ports, webs, strict=True):
            wait_for_port(port, process)
        wait_for_port(lb_port, balancer)
        client.start()
        time.sleep(5)

        _down_and_up(
            "kafka", lambda: _stack("stop", "kafka"), lambda: _stack("start", "kafka"), log
        )
        _down_and_up(
            "redis", lambda: _stack("stop", "redis"), lambda: _stack("start", "redis"), log
        )
        _down_and_up(
            "cassandra",
            lambda: _stack("stop", "cassandra"),
            lambda: _stack("start", "cassandra"),
            log,
        )
        _down_and_up("celery worker", forwarder.kill, forwarder.start, log)
        _down_and_up("spark job (aggregation worker)", aggregator.kill, aggregator.start, log)

        def stop_web() -> None:
            os.killpg(webs[0].pid, signal.SIGKILL)
            webs[0].wait(timeout=30)

        def start_web_again() -> None:
            webs[0] = start_web(env, web_ports[0], tmp_path / "web-restarted.log")
            wait_for_port(web_ports[0], webs[0])

        _down_and_up("web instance", stop_web, start_web_again, log)
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
        client.stopping.set()
        beat.terminate()
        beat.wait(timeout=30)
        forwarder.stop()
        aggregator.stop()
        balancer.terminate()
        for process in webs:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
    statuses = {str(k): v for k, v in client.statuses.items()}
    print("\n" + "\n".join(log))
    print(
        f"tally: requests sent {client.requests}, answers {statuses}; "
        f"events sent {accepted}, accepted {accepted}, counted {counted}"
    )
    assert counted == accepted
    assert accepted >= 50 * EVENTS_PER_REQUEST
    assert not any(str(status).startswith("5") and status != 503 for status in client.statuses)
