"""Two gunicorn instances behind Debian's nginx on loopback, in production mode (TLS at
nginx, DJANGO_SECURE on, docker/nginx/proxy.conf). One instance is killed under load:
the clients see no 5xx and every accepted event reaches Kafka."""

from __future__ import annotations

import http.client
import json
import os
import pwd
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from services.localstack.install import nginx_binary
from tests.conftest import WorkerProcess

pytestmark = [pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
CLIENTS = 4
REQUESTS_PER_CLIENT = 60
EVENTS_PER_REQUEST = 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"process on port {port} exited early"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _start_web(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    """``docker/entrypoint.sh web`` (gunicorn) on 127.0.0.1:``port``, in its own group."""
    return subprocess.Popen(
        ["sh", "docker/entrypoint.sh", "web"],
        cwd=REPO,
        env={**env, "WEB_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        start_new_session=True,
    )


def _nginx_conf(tmp: Path, port: int, upstreams: list[int]) -> Path:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(tmp / "tls.key"), "-out", str(tmp / "tls.crt")],
        check=True, capture_output=True,
    )  # fmt: skip
    servers = "\n".join(
        f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in upstreams
    )
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
user {pwd.getpwuid(os.getuid()).pw_name};
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream analytics_web {{
        least_conn;
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {tmp}/tls.crt;
        ssl_certificate_key {tmp}/tls.key;
        client_header_timeout 10s;
        location / {{
            include {REPO}/docker/nginx/proxy.conf;
            proxy_pass http://analytics_web;
        }}
    }}
}}
""")
    return conf


class LoadClient(threading.Thread):
    """Sends batches with explicit event ids over HTTPS; records each answer."""

    def __init__(self, port: int, key: str, tag: str, sent: dict, statuses: Counter) -> None:
        super().__init__(daemon=True)
        self.port, self.key, self.tag = port, key, tag
        self.sent, self.statuses = sent, statuses
        self.lock = threading.Lock()

    def run(self) -> None:
        context = ssl._create_unverified_context()  # the test's self-signed certificate
        for n in range(REQUESTS_PER_CLIENT):
            ids = [f"{self.tag}-{n}-{i}" for i in range(EVENTS_PER_REQUEST)]
            body = json.dumps({"batch": [{"name": "lb", "event_id": e} for e in ids]})
            connection = http.client.HTTPSConnection(
                "127.0.0.1", self.port, context=context, timeout=60
            )
            try:
                connection.request(
                    "POST", "/api/v1/events", body,
                    {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
                )  # fmt: skip
                status = connection.getresponse().status
            except OSError as exc:
                status = f"connection error: {exc}"
            finally:
                connection.close()
            with self.lock:
                self.statuses[status] += 1
                if status == 202:
                    self.sent.update(dict.fromkeys(ids))


@pytest.fixture
def stack_env(tmp_path, services_up, unique_name) -> dict[str, str]:
    """Environment of every process: a shared SQLite file, a private queue, production mode."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="analytics_site.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CELERY_DEFAULT_QUEUE=unique_name,
        DJANGO_SECURE="true",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        EVENT_ID_REQUEST_HEADER="X-Request-Id",
        INGEST_RATE_LIMIT="0",
        WEB_HOST="127.0.0.1",
        WEB_WORKERS="2",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    _manage(env, "migrate", "--noinput", "--verbosity", "0")
    return env


def test_killing_one_instance_under_load_loses_nothing(tmp_path, stack_env, kafka_tap) -> None:
    nginx = nginx_binary()
    assert nginx, "nginx is missing: run `make install`"
    keys = json.loads(_manage(stack_env, "createproject", "Load balancer test", "--json"))
    web_ports = [_free_port(), _free_port()]
    webs = [_start_web(stack_env, port, tmp_path / f"web-{port}.log") for port in web_ports]
    lb_port = _free_port()
    balancer = subprocess.Popen(
        [nginx, "-c", str(_nginx_conf(tmp_path, lb_port, web_ports)), "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    worker = WorkerProcess(stack_env["CELERY_DEFAULT_QUEUE"], env=stack_env)
    worker.start()
    sent: dict[str, None] = {}
    statuses: Counter = Counter()
    try:
        for port, process in zip(web_ports, webs, strict=True):
            _wait_for_port(port, process)
        _wait_for_port(lb_port, balancer)
        clients = [
            LoadClient(lb_port, keys["write_key"], f"lb{c}-{uuid.uuid4().hex[:6]}", sent, statuses)
            for c in range(CLIENTS)
        ]
        for client in clients:
            client.start()
        total = CLIENTS * REQUESTS_PER_CLIENT
        while sum(statuses.values()) < total // 3:
            time.sleep(0.05)
        os.killpg(webs[0].pid, signal.SIGKILL)  # gunicorn master and its workers, mid-load
        for client in clients:
            client.join(timeout=300)
        answered = sum(statuses.values())
        records = kafka_tap.collect(project_id=keys["project_id"], event_ids=set(sent), timeout=180)
    finally:
        worker.stop()
        balancer.terminate()
        for process in webs:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
    in_kafka = {record["event_id"] for _, record in records}
    print(
        f"\ntally: requests {answered}/{total}, answers {dict(statuses)}, "
        f"events accepted {len(sent)}, in Kafka {len(in_kafka & set(sent))}, "
        f"records read {len(records)} (duplicates {len(records) - len(in_kafka)})"
    )
    assert answered == total
    assert statuses == Counter({202: total}), statuses
    assert in_kafka >= set(sent)
    assert len(sent) == total * EVENTS_PER_REQUEST
