"""Slow clients are cut off by the load balancer's timeouts instead of holding a
connection, and never reach a gunicorn worker. The balancer runs the shipped
docker/nginx/default.conf and proxy.conf (``render_site_conf``: loopback addresses,
ports and a test certificate are the only substitutions), and the timeouts asserted
are read from those files."""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import threading
import time
from typing import Any

import pytest

from services.cluster.nginx import PROXY_CONF, SITE_CONF, free_port, nginx_conf
from services.localstack.install import nginx_binary
from tests.scaleout.stack import wait_for_port

pytestmark = [pytest.mark.integration]


def _shipped_seconds(directive: str, path) -> int:
    """The value, in seconds, of ``directive`` (set once, as ``Ns``) in a shipped file."""
    values = re.findall(rf"^\s*{directive} (\d+)s;", path.read_text(), re.MULTILINE)
    assert len(values) == 1, (directive, path, values)
    return int(values[0])


HEADER_TIMEOUT = _shipped_seconds("client_header_timeout", SITE_CONF)
BODY_TIMEOUT = _shipped_seconds("client_body_timeout", PROXY_CONF)


def _slow_client(port: int, first_bytes: bytes, result: dict[str, Any]) -> None:
    """Send ``first_bytes`` of a request, then nothing; time until the server hangs up."""
    context = ssl._create_unverified_context()  # the test's self-signed certificate
    raw = socket.create_connection(("127.0.0.1", port), timeout=60)
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(first_bytes)
        started = time.monotonic()
        answer = b""
        try:
            while chunk := tls.recv(4096):
                answer += chunk
        except (ConnectionResetError, ssl.SSLError):
            pass
        result["seconds"] = time.monotonic() - started
        result["answer"] = answer


def test_slow_headers_and_slow_bodies_are_cut_off(tmp_path) -> None:
    nginx = nginx_binary()
    assert nginx, "nginx is missing: run `make install`"
    port, nowhere = free_port(), free_port()  # no instance needed: nginx buffers first
    conf = nginx_conf(tmp_path, port, [nowhere])
    # What nginx actually loads: the shipped files, with their timeouts untouched.
    dump = subprocess.run([nginx, "-T", "-c", str(conf)], capture_output=True, text=True)
    assert dump.returncode == 0, dump.stderr
    site = (tmp_path / "default.conf").read_text()  # rendered from SITE_CONF
    assert f"# configuration file {tmp_path / 'default.conf'}:\n{site}" in dump.stdout
    assert "location = /nginx-health" in site  # the shipped server blocks, not a template
    assert f"# configuration file {PROXY_CONF}:" in dump.stdout
    effective = re.sub(r"(?m)^\s*#.*$", "", dump.stdout)
    assert re.findall(r"client_header_timeout (\d+)s;", effective) == [str(HEADER_TIMEOUT)]
    assert re.findall(r"client_body_timeout (\d+)s;", effective) == [str(BODY_TIMEOUT)]
    balancer = subprocess.Popen([nginx, "-c", str(conf), "-g", "daemon off;"])
    try:
        wait_for_port(port, balancer)
        cases = {
            "headers": b"POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty",
            "body": b"POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name":',
        }
        results: dict[str, dict[str, Any]] = {name: {} for name in cases}
        threads = [
            threading.Thread(target=_slow_client, args=(port, data, results[name]))
            for name, data in cases.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        balancer.terminate()
        balancer.wait(timeout=30)
    for name, timeout in (("headers", HEADER_TIMEOUT), ("body", BODY_TIMEOUT)):
        result = results[name]
        assert timeout - 1 <= result["seconds"] <= timeout + 5, (name, result)
    answer = results["body"]["answer"]
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer  # nothing proxied
    access_log = (tmp_path / "access.log").read_text()
    assert " 408 " in access_log  # nginx records the slow body as a request timeout
    assert " 502 " not in access_log  # nothing was passed on to an instance
