"""The load balancer of a loopback deployment: Debian's nginx running the shipped
``docker/nginx/default.conf`` and ``proxy.conf``, rendered for loopback
(``render_site_conf``), in a self-contained ``nginx.conf`` (``nginx_conf``)."""

from __future__ import annotations

import os
import pwd
import re
import socket
import subprocess
from pathlib import Path

from services.localstack.config import REPO_ROOT

REPO = REPO_ROOT


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def nginx_conf(tmp: Path, port: int, upstreams: list[int], *, http_port: int | None = None) -> Path:
    """An nginx.conf for loopback whose ``http`` block is the shipped site config
    (``render_site_conf``, kept as ``tmp/default.conf``), as the nginx image includes
    ``conf.d/*.conf``; TLS on ``port``, plain HTTP on ``http_port`` (default: a free port)."""
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
    site.write_text(
        render_site_conf(tmp, port, upstreams, http_port=http_port or free_port(), nginx=nginx)
    )
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
