"""Two gunicorn instances behind Debian's nginx on loopback, in production mode (TLS at
nginx, DJANGO_SECURE on, docker/nginx/proxy.conf). One instance is killed under load:
the clients see no 5xx and every accepted event reaches Kafka."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import WorkerProcess
from tests.scaleout.stack import WebTier, manage, post_events, production_env

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "cassandra"]),
]

REPO = Path(__file__).resolve().parents[2]
CLIENTS = 4
REQUESTS_PER_CLIENT = 60
EVENTS_PER_REQUEST = 20


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def _get(port: int, path: str, *, tls: bool) -> Answer:
    connection: http.client.HTTPConnection
    if tls:
        context = ssl._create_unverified_context()  # the test's self-signed certificate
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return Answer(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


class LoadClient(threading.Thread):
    """Sends batches with explicit event ids over HTTPS; records each answer."""

    def __init__(self, port: int, key: str, tag: str, sent: dict, statuses: Counter) -> None:
        super().__init__(daemon=True)
        self.port, self.key, self.tag = port, key, tag
        self.sent, self.statuses = sent, statuses
        self.lock = threading.Lock()

    def run(self) -> None:
        for n in range(REQUESTS_PER_CLIENT):
            ids = [f"{self.tag}-{n}-{i}" for i in range(EVENTS_PER_REQUEST)]
            body = json.dumps({"batch": [{"name": "lb", "event_id": e} for e in ids]})
            status = post_events(self.port, self.key, body)
            with self.lock:
                self.statuses[status] += 1
                if status == 202:
                    self.sent.update(dict.fromkeys(ids))


@pytest.fixture
def stack_env(tmp_path, services_up, unique_name) -> dict[str, str]:
    env = production_env(tmp_path / "db.sqlite3", queue=unique_name)
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    return env


def test_killing_one_instance_under_load_loses_nothing(tmp_path, stack_env, kafka_tap) -> None:
    keys = json.loads(manage(stack_env, "createproject", "Load balancer test", "--json"))
    worker = WorkerProcess(stack_env["CELERY_DEFAULT_QUEUE"], env=stack_env)
    worker.start()
    sent: dict[str, None] = {}
    statuses: Counter = Counter()
    try:
        with WebTier(tmp_path, stack_env) as tier:
            clients = [
                LoadClient(
                    tier.port, keys["write_key"], f"lb{c}-{uuid.uuid4().hex[:6]}", sent, statuses
                )
                for c in range(CLIENTS)
            ]
            for client in clients:
                client.start()
            total = CLIENTS * REQUESTS_PER_CLIENT
            while sum(statuses.values()) < total // 3:
                time.sleep(0.05)
            tier.kill(0)  # mid-load
            for client in clients:
                client.join(timeout=300)
            answered = sum(statuses.values())
            query = _get(
                tier.port,
                f"/3.0/projects/{keys['project_id']}/queries/count?api_key={keys['read_key']}"
                "&event_collection=lb&timeframe=this_1_days",
                tls=True,
            )
            plain = _get(tier.ports[1], "/api/v1/events", tls=False)
            records = kafka_tap.collect(
                project_id=keys["project_id"], event_ids=set(sent), timeout=180
            )
    finally:
        worker.stop()
    in_kafka = {record["event_id"] for _, record in records}
    print(
        f"\ntally: requests {answered}/{total}, answers {dict(statuses)}, "
        f"events accepted {len(sent)}, in Kafka {len(in_kafka & set(sent))}, "
        f"records read {len(records)} (duplicates {len(records) - len(in_kafka)})"
    )
    assert answered == total
    # Production settings through the TLS terminator: security headers; plain HTTP
    # straight to an instance is redirected.
    assert query.status == 200, query.body
    assert query.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert query.headers["X-Content-Type-Options"] == "nosniff"
    assert query.headers["X-Frame-Options"] == "DENY"
    assert query.headers["Referrer-Policy"] == "same-origin"
    assert plain.status == 301
    assert plain.headers["Location"].startswith("https://")
    # Keys are never logged, not even the one sent as ?api_key= (paths are).
    logs = "".join(path.read_text() for path in tmp_path.glob("*.log"))
    assert "/queries/count" in logs
    assert "/api/v1/events" in logs
    for kind in ("write_key", "read_key", "master_key"):
        assert keys[kind] not in logs
    assert statuses == Counter({202: total}), statuses
    assert in_kafka >= set(sent)
    assert len(sent) == total * EVENTS_PER_REQUEST
