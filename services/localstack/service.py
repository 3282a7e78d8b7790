"""The shape every local service follows, and the generic start/stop/status flow."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from . import proc
from .config import StackConfig
from .errors import StackError


class LocalService(ABC):
    """One service run as a local process: configure, launch, probe, stop."""

    name: str

    def __init__(self, config: StackConfig) -> None:
        self.config = config

    @property
    def host(self) -> str:
        """The loopback address this service binds."""
        return self.config.host

    @property
    def working_dir(self) -> Path:
        return self.config.home

    @property
    def timeout_key(self) -> str:
        """The ``start_timeout`` entry that bounds this service's start."""
        return self.name

    @property
    def pid_file(self) -> Path:
        return self.config.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.config.log_dir / f"{self.name}.log"

    @abstractmethod
    def ports(self) -> dict[str, int]:
        """The ports this service binds, keyed by the env variable that sets each."""

    @abstractmethod
    def prepare(self, progress: Callable[[str], None]) -> list[str]:
        """Check prerequisites, write config and return the command to launch."""

    @abstractmethod
    def probe(self) -> bool:
        """One real round trip to the service; true when it answers."""

    def extra_env(self) -> dict[str, str]:
        return {}

    def describe(self) -> str:
        port = next(iter(self.ports().values()))
        return f"{self.name} on {self.host}:{port}"

    def running_pid(self) -> int | None:
        return proc.read_pid(self.pid_file)

    def start(self, progress: Callable[[str], None]) -> float:
        """Start the service unless it already runs; wait until ready; return seconds."""
        started = time.monotonic()
        pid = self.launch(progress)
        if pid is None:
            return 0.0
        return self.await_ready(pid, progress, started)

    def launch(self, progress: Callable[[str], None]) -> int | None:
        """Spawn the service unless it runs; the pid to wait for, or None when it already
        answers. Nodes that only become ready together (a KRaft quorum) are all launched
        before any is awaited."""
        pid = self.running_pid()
        if pid is not None:
            if self.probe():
                progress(f"{self.describe()}: already running (pid {pid})")
                return None
            progress(f"{self.describe()}: process {pid} exists, waiting for it")
            return pid
        proc.require_free_ports(self.name, self.host, self.ports())
        command = self.prepare(progress)
        progress(f"{self.describe()}: starting (log: {self.log_file})")
        return proc.spawn(
            command,
            pid_file=self.pid_file,
            log_file=self.log_file,
            env=self.extra_env(),
            cwd=self.working_dir,
        )

    def await_ready(self, pid: int, progress: Callable[[str], None], started: float) -> float:
        """Wait until the launched ``pid`` answers (StackError if it dies or times out);
        the seconds since ``started`` (monotonic)."""
        proc.wait_ready(
            self.name,
            pid=pid,
            probe=self.probe,
            timeout=self.config.start_timeout[self.timeout_key],
            log_file=self.log_file,
            pid_file=self.pid_file,
            progress=progress,
        )
        elapsed = time.monotonic() - started
        progress(f"{self.describe()}: ready in {elapsed:.1f}s")
        return elapsed

    def stop(self, progress: Callable[[str], None]) -> None:
        """Stop the service if it runs (SIGTERM, then SIGKILL after a grace period)."""
        pid = self.running_pid()
        if pid is None:
            progress(f"{self.name}: not running")
            self.pid_file.unlink(missing_ok=True)
            return
        progress(f"{self.name}: stopping (pid {pid})")
        proc.stop_pid(pid)
        self.pid_file.unlink(missing_ok=True)
        progress(f"{self.name}: stopped")

    def status(self) -> str:
        pid = self.running_pid()
        if pid is None:
            return "stopped"
        return "ready" if self.probe() else f"starting or unhealthy (pid {pid})"


def require_jars(config: StackConfig, group: str) -> Path:
    """The folder of a fetched jar group, or a StackError telling how to fetch it."""
    folder = config.jars_dir / group
    if not (folder / ".complete").exists():
        raise StackError(
            f"the {group} jars are not installed in {folder}; "
            "run `make install` (or python -m services.localstack install)"
        )
    return folder
