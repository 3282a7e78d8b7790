"""Stack settings, read from the environment once (ports, paths, timeouts)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import StackError

REPO_ROOT = Path(__file__).resolve().parents[2]


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise StackError(f"{name} must be an integer, got {raw!r}") from None


@dataclass(frozen=True)
class StackConfig:
    """Where the stack lives and which ports it binds (always on 127.0.0.1)."""

    home: Path
    host: str
    redis_port: int
    kafka_port: int
    kafka_controller_port: int
    cassandra_port: int
    cassandra_storage_port: int
    cassandra_heap_mb: int
    kafka_heap_mb: int
    java_home: str | None
    start_timeout: dict[str, int]
    jars_home: Path | None = None  # where `install` puts the jars; default ``home/jars``

    @property
    def jars_dir(self) -> Path:
        return self.jars_home or self.home / "jars"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_dir(self) -> Path:
        return self.home / "log"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def conf_dir(self) -> Path:
        return self.home / "conf"


def load_config() -> StackConfig:
    """Build the configuration from ``STACK_HOME``, ``*_PORT`` and ``*_START_TIMEOUT``."""
    home = Path(os.environ.get("STACK_HOME") or REPO_ROOT / "var").resolve()
    heap = _int_env("CASSANDRA_HEAP_MB", 1024)
    if not 256 <= heap <= 1024:
        raise StackError(f"CASSANDRA_HEAP_MB must be between 256 and 1024, got {heap}")
    return StackConfig(
        home=home,
        host="127.0.0.1",
        redis_port=_int_env("REDIS_PORT", 6379),
        kafka_port=_int_env("KAFKA_PORT", 9092),
        kafka_controller_port=_int_env("KAFKA_CONTROLLER_PORT", 9093),
        cassandra_port=_int_env("CASSANDRA_PORT", 9042),
        cassandra_storage_port=_int_env("CASSANDRA_STORAGE_PORT", 7000),
        cassandra_heap_mb=heap,
        kafka_heap_mb=_int_env("KAFKA_HEAP_MB", 512),
        java_home=os.environ.get("JAVA_HOME") or None,
        start_timeout={
            "redis": _int_env("REDIS_START_TIMEOUT", 30),
            "kafka": _int_env("KAFKA_START_TIMEOUT", 120),
            "cassandra": _int_env("CASSANDRA_START_TIMEOUT", 240),
        },
    )
