"""Processes of a local multi-instance deployment on loopback (test helpers): gunicorn
instances through docker/entrypoint.sh, Debian's nginx with the shipped
docker/nginx/default.conf and proxy.conf (rendered for loopback: ``render_site_conf``)."""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

from services.cluster.nginx import free_port, nginx_conf

REPO = Path(__file__).resolve().parents[2]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"process on port {port} exited early"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def start_web(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    """``docker/entrypoint.sh web`` (gunicorn) on 127.0.0.1:``port``, in its own group."""
    return subprocess.Popen(
        ["sh", "docker/entrypoint.sh", "web"],
        cwd=REPO,
        env={**env, "WEB_PORT": str(port)},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def production_env(db_path: Path, *, queue: str, **extra: str) -> dict[str, str]:
    """Environment of every process of the deployment: a shared SQLite file, a private
    Celery queue and ingestion streams, the test keyspace, production mode
    (DJANGO_SECURE) behind nginx, the venv on PATH. Call it from a test marked to use
    the "cassandra" database."""
    from django.db import connections

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="analytics_site.settings",
        DATABASE_URL=f"sqlite:///{db_path}",
        CASSANDRA_KEYSPACE=connections["cassandra"].settings_dict["NAME"],
        CELERY_DEFAULT_QUEUE=queue,
        EVENTS_STREAM_PREFIX=f"{queue}:stream",
        DJANGO_SECURE="true",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        EVENT_ID_REQUEST_HEADER="X-Request-Id",
        INGEST_RATE_LIMIT="0",
        QUERY_RATE_LIMIT="0",
        WEB_HOST="127.0.0.1",
        WEB_WORKERS="2",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **extra,
    )
    return env


def post_events(port: int, key: str, body: str, *, timeout: float = 60) -> int | str:
    """POST ``body`` to ``/api/v1/events`` through the TLS balancer on ``port``; the HTTP
    status, or the name of the connection error."""
    context = ssl._create_unverified_context()  # the tests' self-signed certificate
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=timeout)
    try:
        connection.request(
            "POST",
            "/api/v1/events",
            body,
            {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        return connection.getresponse().status
    except OSError as exc:
        return type(exc).__name__
    finally:
        connection.close()


class WebTier:
    """``count`` gunicorn instances (``docker/entrypoint.sh web``) behind Debian's nginx
    with TLS and the shipped proxy.conf, on loopback; a context manager that stops them.

    ``port`` is the balancer's, ``ports`` the instances'. Logs go to ``tmp``.
    """

    def __init__(self, tmp: Path, env: dict[str, str], count: int = 2) -> None:
        from services.localstack.install import nginx_binary

        nginx = nginx_binary()
        assert nginx, "nginx is missing: run `make install`"
        self.tmp, self.env = tmp, env
        self.ports = [free_port() for _ in range(count)]
        self.webs = [start_web(env, port, tmp / f"web-{port}.log") for port in self.ports]
        self.port = free_port()
        self.balancer = subprocess.Popen(
            [nginx, "-c", str(nginx_conf(tmp, self.port, self.ports)), "-g", "daemon off;"]
        )
        try:
            for port, process in zip(self.ports, self.webs, strict=True):
                wait_for_port(port, process)
            wait_for_port(self.port, self.balancer)
        except BaseException:
            self.close()
            raise

    def kill(self, index: int) -> None:
        """SIGKILL instance ``index``: the gunicorn master and its workers."""
        os.killpg(self.webs[index].pid, signal.SIGKILL)
        self.webs[index].wait(timeout=30)

    def restart(self, index: int) -> None:
        port = self.ports[index]
        self.webs[index] = start_web(self.env, port, self.tmp / f"web-{port}-restarted.log")
        wait_for_port(port, self.webs[index])

    def close(self) -> None:
        self.balancer.terminate()
        self.balancer.wait(timeout=30)
        for process in self.webs:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)

    def __enter__(self) -> WebTier:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
