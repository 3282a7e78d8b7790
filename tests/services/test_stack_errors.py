"""Bad configuration gets a clear one-line reason, not a stack trace."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest

from tests.conftest import run_stack


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fake_java(tmp_path: Path, *, version: str, run_forever: bool = False) -> Path:
    """A JAVA_HOME whose bin/java reports ``version`` and, when run, idles or exits."""
    home = tmp_path / f"jdk-{version}"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    body = "sleep 300" if run_forever else "exit 0"
    java.write_text(
        "#!/bin/sh\n"
        'case "$*" in *-version*) '
        f"echo 'openjdk version \"{version}\" 2030-01-01' >&2; exit 0;; esac\n"
        'case "$*" in *StorageTool*) exit 0;; esac\n'
        f"{body}\n"
    )
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    return home


@pytest.fixture
def isolated_env(tmp_path: Path) -> dict[str, str]:
    """A private STACK_HOME and free ports, so nothing touches the running stack."""
    home = tmp_path / "stack"
    for group in ("kafka", "cassandra"):
        jars = home / "jars" / group
        jars.mkdir(parents=True)
        (jars / ".complete").write_text("test\n")
        (jars / "jamm-0.4.0.jar").write_text("")
    return {
        "STACK_HOME": str(home),
        "REDIS_PORT": str(_free_port()),
        "KAFKA_PORT": str(_free_port()),
        "KAFKA_CONTROLLER_PORT": str(_free_port()),
        "CASSANDRA_PORT": str(_free_port()),
        "CASSANDRA_STORAGE_PORT": str(_free_port()),
    }


def _assert_clear_error(result, *fragments: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "[stack] error:" in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_port_already_taken_is_named(isolated_env: dict[str, str]) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = run_stack("start", "redis", env={**isolated_env, "REDIS_PORT": str(port)})
    _assert_clear_error(result, f"port {port}", "already in use", "REDIS_PORT")


def test_java_missing_is_reported(isolated_env: dict[str, str], tmp_path: Path) -> None:
    env = {**isolated_env, "JAVA_HOME": str(tmp_path / "no-such-jdk")}
    result = run_stack("start", "kafka", env=env)
    _assert_clear_error(result, "has no bin/java", "JDK 17")


def test_wrong_java_version_for_cassandra(isolated_env: dict[str, str], tmp_path: Path) -> None:
    env = {**isolated_env, "JAVA_HOME": str(_fake_java(tmp_path, version="25.0.1"))}
    result = run_stack("start", "cassandra", env=env)
    _assert_clear_error(result, "Cassandra 5.0 needs Java 11 or 17", "is Java 25")


def test_old_java_for_kafka(isolated_env: dict[str, str], tmp_path: Path) -> None:
    env = {**isolated_env, "JAVA_HOME": str(_fake_java(tmp_path, version="1.8.0_402"))}
    result = run_stack("start", "kafka", env=env)
    _assert_clear_error(result, "Kafka needs Java 17", "is Java 8")


def test_service_not_ready_within_timeout(isolated_env: dict[str, str], tmp_path: Path) -> None:
    env = {
        **isolated_env,
        "JAVA_HOME": str(_fake_java(tmp_path, version="17.0.15", run_forever=True)),
        "KAFKA_START_TIMEOUT": "2",
    }
    result = run_stack("start", "kafka", env=env)
    _assert_clear_error(result, "kafka did not become ready within 2s", "KAFKA_START_TIMEOUT")
    pid_file = Path(isolated_env["STACK_HOME"]) / "run" / "kafka.pid"
    assert not pid_file.exists(), "the stuck process must be stopped and forgotten"


def test_non_numeric_port_is_rejected(isolated_env: dict[str, str]) -> None:
    result = run_stack("start", "redis", env={**isolated_env, "REDIS_PORT": "six"})
    _assert_clear_error(result, "REDIS_PORT must be an integer")
