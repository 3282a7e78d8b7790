"""The app's processes on the cluster, each through ``docker/entrypoint.sh`` as in the
container stack: web instances, forwarding workers, the aggregator (the Spark driver,
its executors on the standalone workers) and beat; and nginx in front of the web."""

from __future__ import annotations

import http.client
import os
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from services.localstack.config import REPO_ROOT, StackConfig
from services.localstack.errors import StackError
from services.localstack.install import nginx_binary
from services.localstack.service import LocalService

from . import topology
from .nginx import nginx_conf

# What a Celery process writes once it serves (worker: "celery@host ready.").
_READY_LINE = {"worker": " ready.", "aggregator": " ready.", "beat": "beat: Starting..."}


def process_env(layout: topology.Layout, role: str) -> dict[str, str]:
    """The environment of a ``role`` process: ``app_env`` plus the role's keys, the
    venv first on PATH."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))},
        **topology.app_env(layout),
        **topology.ROLE_ENV[role],
        "DJANGO_SETTINGS_MODULE": "analytics_site.settings",
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def run_migrate(layout: topology.Layout, progress: Callable[[str], None]) -> None:
    """``entrypoint.sh migrate`` (tables, keyspace at RF 3, topics at RF 3 / min ISR 2)
    and ``collectstatic``, as compose's ``migrate`` service and image do."""
    env = process_env(layout, "beat")
    for command in (
        ["sh", "docker/entrypoint.sh", "migrate"],
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
    ):
        progress(f"migrate: {' '.join(command[-3:])}")
        result = subprocess.run(
            command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600
        )
        if result.returncode != 0:
            raise StackError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")


class AppProcess(LocalService):
    """One ``entrypoint.sh <role>`` process: ``web`` instance ``index`` on
    ``WEB_PORTS[index - 1]``, or a ``worker``/``aggregator``/``beat``."""

    def __init__(
        self, config: StackConfig, layout: topology.Layout, role: str, index: int = 1
    ) -> None:
        super().__init__(config)
        self.layout, self.role, self.index = layout, role, index
        self.name = f"{role}-{index}"
        self._log_start = 0

    @property
    def timeout_key(self) -> str:
        return "app"

    @property
    def working_dir(self) -> Path:
        return REPO_ROOT

    @property
    def port(self) -> int | None:
        return topology.WEB_PORTS[self.index - 1] if self.role == "web" else None

    def ports(self) -> dict[str, int]:
        return {"WEB_PORT": self.port} if self.port else {}

    def describe(self) -> str:
        return f"{self.name} on {self.host}:{self.port}" if self.port else self.name

    def prepare(self, progress: Callable[[str], None]) -> list[str]:
        self._log_start = self.log_file.stat().st_size if self.log_file.exists() else 0
        command = ["sh", str(REPO_ROOT / "docker" / "entrypoint.sh"), self.role]
        if self.role in ("worker", "aggregator"):
            command += ["--hostname", f"{self.name}@%h"]
        return command

    def extra_env(self) -> dict[str, str]:
        env = process_env(self.layout, self.role)
        if self.port:
            env.update(WEB_HOST=self.host, WEB_PORT=str(self.port))
        return env

    def launch(self, progress: Callable[[str], None]) -> int | None:
        self.config.home.mkdir(parents=True, exist_ok=True)
        return super().launch(progress)

    def probe(self) -> bool:
        if self.port:
            return _health_answers(self.host, self.port, tls=False)
        try:
            with self.log_file.open("rb") as log:
                log.seek(self._log_start)
                return _READY_LINE[self.role].encode() in log.read()
        except FileNotFoundError:
            return False


class Balancer(LocalService):
    """Debian's nginx with the shipped site config, TLS on ``BALANCER_PORT``, in front
    of every web instance."""

    name = "nginx"

    def __init__(self, config: StackConfig, layout: topology.Layout) -> None:
        super().__init__(config)
        self.layout = layout

    @property
    def timeout_key(self) -> str:
        return "app"

    def ports(self) -> dict[str, int]:
        return {"BALANCER_PORT": topology.BALANCER_PORT}

    def prepare(self, progress: Callable[[str], None]) -> list[str]:
        nginx = nginx_binary()
        if nginx is None:
            raise StackError("nginx is not installed; run `make install`")
        folder = self.layout.balancer_dir
        folder.mkdir(parents=True, exist_ok=True)
        conf = nginx_conf(
            folder,
            topology.BALANCER_PORT,
            list(topology.WEB_PORTS),
            http_port=topology.BALANCER_HTTP_PORT,
        )
        return [nginx, "-c", str(conf), "-g", "daemon off;"]

    def probe(self) -> bool:
        return _health_answers(self.host, topology.BALANCER_PORT, tls=True)


def _health_answers(host: str, port: int, *, tls: bool) -> bool:
    """True when ``GET /api/v1/health`` gets any HTTP answer (the app serves)."""
    connection: http.client.HTTPConnection
    if tls:
        context = ssl._create_unverified_context()  # the cluster's self-signed certificate
        connection = http.client.HTTPSConnection(host, port, timeout=5, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        connection.request("GET", "/api/v1/health", headers={"Host": "127.0.0.1"})
        return connection.getresponse().status > 0
    except OSError:
        return False
    finally:
        connection.close()
