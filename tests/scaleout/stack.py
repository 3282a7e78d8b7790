"""Processes of a local multi-instance deployment on loopback (test helpers): gunicorn
instances through docker/entrypoint.sh, Debian's nginx with the shipped
docker/nginx/default.conf and proxy.conf (rendered for loopback: ``render_site_conf``)."""

from __future__ import annotations

import http.client
import os
import pwd
import re
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


SITE_CONF = REPO / "docker" / "nginx" / "default.conf"
PROXY_CONF = REPO / "docker" / "nginx" / "proxy.conf"
_UPSTREAM_SERVER = re.compile(r"^( *)server web-\d+:8000( [^;]*)?;\n", re.MULTILINE)


def _nginx_version(nginx: str) -> tuple[int, ...]:
    banner = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=True).stderr
    found = re.search(r"nginx/([\d.]+)", banner)
    if found is None:
        raise RuntimeError(f"no version in nginx -v: {banner!r}")
    return tuple(int(part) for part in found[1].split("."))


def render_site_conf(
    tmp: Path, port: int, upstreams: list[int], *, http_port: int, nginx: str
) -> str:
    """The shipped ``docker/nginx/default.conf``, with only what cannot work on loopback
    substituted, each substitution checked to apply exactly once (so the test breaks
    when the shipped file changes shape, instead of silently testing something else):

    - the upstream ``server web-N:8000 <params>;`` lines: one per ``upstreams`` port on
      127.0.0.1, with the shipped parameters;
    - ``listen 80`` and ``listen 443 ssl``: 127.0.0.1:``http_port`` and :``port``;
    - the certificate and key: a self-signed pair made in ``tmp``;
    - ``/etc/nginx/analytics/proxy.conf`` and the access log: this checkout's
      ``docker/nginx/proxy.conf`` and ``tmp/access.log``;
    - ``http2 on;`` is dropped when this nginx predates it (1.25.1; Debian 12 has 1.22).

    Every other directive, the timeouts and the retry policy among them, is the shipped one.
    """
    text = SITE_CONF.read_text()
    shipped_servers = _UPSTREAM_SERVER.findall(text)
    assert shipped_servers, "no `server web-N:8000` line in docker/nginx/default.conf"
    indent, params = shipped_servers[0]
    servers = "".join(f"{indent}server 127.0.0.1:{p}{params};\n" for p in upstreams)
    text = _UPSTREAM_SERVER.sub("", text, count=len(shipped_servers) - 1)
    text = _UPSTREAM_SERVER.sub(lambda _: servers, text)
    replacements = [
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"),
        ("/etc/nginx/certs/tls.crt", str(tmp / "tls.crt")),
        ("/etc/nginx/certs/tls.key", str(tmp / "tls.key")),
        ("/etc/nginx/analytics/proxy.conf", str(PROXY_CONF)),
        ("/var/log/nginx/access.log", str(tmp / "access.log")),
    ]
    if _nginx_version(nginx) < (1, 25, 1):
        replacements.append(("    http2 on;\n", ""))
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} is not in docker/nginx/default.conf once"
        text = text.replace(old, new)
    return text


def nginx_conf(tmp: Path, port: int, upstreams: list[int]) -> Path:
    """An nginx.conf for loopback whose ``http`` block is the shipped site config
    (``render_site_conf``, kept as ``tmp/default.conf``), as the nginx image includes
    ``conf.d/*.conf``; TLS on ``port``, plain HTTP on a free port."""
    from services.localstack.install import nginx_binary

    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(tmp / "tls.key"),
            "-out",
            str(tmp / "tls.crt"),
        ],
        check=True,
        capture_output=True,
    )
    site = tmp / "default.conf"
    nginx = nginx_binary()
    if nginx is None:
        raise RuntimeError("nginx is not installed (python -m services.localstack install)")
    site.write_text(render_site_conf(tmp, port, upstreams, http_port=free_port(), nginx=nginx))
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
user {pwd.getpwuid(os.getuid()).pw_name};
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 512; }}
http {{
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {site};
}}
""")
    return conf


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
