"""What the cluster fault tests drive and check: an SDK-like client that resends until
202, a query loop, and the exactness checks (accepted ids = stored ids, rollups = an
independent computation from the events sent, per project)."""

from __future__ import annotations

import http.client
import json
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from services.cluster import topology
from services.cluster.apps import process_env
from services.localstack.config import REPO_ROOT

EVENT = "purchase"


def create_project(name: str) -> dict[str, str]:
    """A new project on the cluster (``manage.py createproject``): its id and keys."""
    env = process_env(topology.default_layout(), "web")
    result = subprocess.run(
        [sys.executable, "manage.py", "createproject", name, "--json"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def _connection(timeout: float) -> http.client.HTTPSConnection:
    context = ssl._create_unverified_context()  # the cluster's self-signed certificate
    return http.client.HTTPSConnection(
        "127.0.0.1", topology.BALANCER_PORT, timeout=timeout, context=context
    )


def request(
    method: str, path: str, key: str, body: str | None = None, timeout: float = 30
) -> tuple[int | str, dict[str, str], bytes]:
    """One request through nginx: (status or error name, headers, body)."""
    connection = _connection(timeout)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    try:
        connection.request(method, path, body, headers)
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    except OSError as exc:
        return type(exc).__name__, {}, b""
    finally:
        connection.close()


def query(key: str, analysis: str, **params: str) -> tuple[int | str, Any]:
    status, _, body = request("GET", f"/api/v1/insights/{analysis}?{urlencode(params)}", key)
    return status, (json.loads(body)["result"] if status == 200 else body)


class Client(threading.Thread):
    """Sends batches of ``size`` events to one project, like an SDK: anything not
    answered 202 is sent again, same event ids, until it is."""

    def __init__(self, key: str, prefix: str, size: int = 10, pause: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.key, self.prefix, self.size, self.pause = key, prefix, size, pause
        self.accepted: dict[str, dict] = {}
        self.statuses: Counter = Counter()
        self.stopping = threading.Event()

    def run(self) -> None:
        number = 0
        while not self.stopping.is_set():
            now = datetime.now(UTC)
            events: list[dict[str, Any]] = [
                {
                    "name": EVENT,
                    "event_id": f"{self.prefix}-{number}-{i}-{uuid.uuid4().hex[:6]}",
                    "distinct_id": f"user-{(number * self.size + i) % 37}",
                    "timestamp": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "properties": {"amount": (number + i) % 11},
                }
                for i in range(self.size)
            ]
            body = json.dumps({"batch": events})
            while True:
                status, _, _ = request("POST", "/api/v1/events", self.key, body)
                self.statuses[status] += 1
                if status == 202:
                    self.accepted.update((e["event_id"], e) for e in events)
                    break
                time.sleep(0.5)
            number += 1
            time.sleep(self.pause)

    def finish(self) -> dict[str, dict]:
        self.stopping.set()
        self.join(timeout=300)
        assert not self.is_alive(), "the client never got its last batch accepted"
        return dict(self.accepted)


class QueryLoop(threading.Thread):
    """Asks for a count over and over; keeps each answer's (sent, latency, status,
    whether it carried Retry-After)."""

    def __init__(self, key: str) -> None:
        super().__init__(daemon=True)
        self.key = key
        self.answers: list[tuple[float, float, int | str, bool]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        params = urlencode({"event_collection": EVENT, "timeframe": "this_2_days"})
        while not self.stopping.is_set():
            started = time.monotonic()
            status, headers, _ = request("GET", f"/api/v1/insights/count?{params}", self.key)
            retry_after = "Retry-After" in headers
            self.answers.append((started, time.monotonic() - started, status, retry_after))
            time.sleep(0.1)

    def finish(self) -> list[tuple[float, float, int | str, bool]]:
        self.stopping.set()
        self.join(timeout=60)
        return list(self.answers)


def p95(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[int(0.95 * (len(ordered) - 1))] if ordered else float("nan")


def _days() -> list[date]:
    today = datetime.now(UTC).date()
    return [today - timedelta(days=1), today]


def cassandra_session():
    """A driver session on the ring, reading at LOCAL_QUORUM."""
    from cassandra import ConsistencyLevel
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import DCAwareRoundRobinPolicy

    profile = ExecutionProfile(
        load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=topology.CASSANDRA_DC),
        consistency_level=ConsistencyLevel.LOCAL_QUORUM,
        request_timeout=20,
    )
    cluster = Cluster(list(topology.HOSTS), execution_profiles={EXEC_PROFILE_DEFAULT: profile})
    return cluster, cluster.connect("analytics")


def stored_ids(session, project_id: str) -> list[str]:
    """The event ids of the project's ``raw_events`` rows, one per row."""
    return [
        row.event_id
        for day in _days()
        for row in session.execute(
            "SELECT event_id FROM raw_events WHERE project_id = %s AND name = %s AND day = %s",
            (project_id, EVENT, day),
        )
    ]


def hourly_rollup_counts(session, project_id: str) -> dict[datetime, int]:
    counts: dict[datetime, int] = {}
    for period in sorted({f"{day:%Y-%m}" for day in _days()}):
        rows = session.execute(
            "SELECT bucket, category, count FROM rollups WHERE project_id = %s AND name = %s "
            "AND metric = 'events' AND granularity = 'hour' AND period = %s",
            (project_id, EVENT, period),
        )
        counts |= {
            row.bucket.replace(tzinfo=UTC): row.count for row in rows if row.category == "all"
        }
    return counts


def expected_hourly(events: dict[str, dict]) -> dict[datetime, int]:
    counts: dict[datetime, int] = defaultdict(int)
    for event in events.values():
        stamp = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
        counts[stamp.replace(minute=0, second=0, microsecond=0)] += 1
    return dict(counts)


def wait_until_exact(session, project: dict[str, str], events: dict[str, dict], timeout=300):
    """Wait until the project's stored ids are exactly the accepted ones, its hourly
    rollups equal a count computed from ``events``, and so do ``count``, ``sum`` and
    ``count_unique`` through nginx (the daily rollups they read are derived in the run's
    second stage, so they may lag the hourly ones by a moment)."""
    key = project["read_key"]
    frame = {"event_collection": EVENT, "timeframe": "this_2_days"}
    expected = {
        "count": (200, len(events)),
        "sum": (200, sum(e["properties"]["amount"] for e in events.values())),
        "count_unique": (200, len({e["distinct_id"] for e in events.values()})),
    }
    targets: dict[str, dict[str, str]] = {
        "count": {},
        "sum": {"target_property": "amount"},
        "count_unique": {"target_property": "distinct_id"},
    }
    deadline = time.monotonic() + timeout
    while True:
        stored = stored_ids(session, project["project_id"])
        assert len(stored) == len(set(stored)), "an event stored twice"
        assert not set(stored) - set(events), "stored, never accepted"
        hourly = hourly_rollup_counts(session, project["project_id"])
        answers = {name: query(key, name, **extra, **frame) for name, extra in targets.items()}
        exact_store = set(stored) == set(events) and hourly == expected_hourly(events)
        if exact_store and answers == expected:
            return
        assert time.monotonic() < deadline, (
            f"after {timeout}s: stored {len(set(stored))} of {len(events)} accepted; "
            f"rollup count {sum(hourly.values())}; answers {answers}, expected {expected}"
        )
        time.sleep(2)
