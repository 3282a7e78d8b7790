"""Background processes: spawn detached, track by pid file, wait for readiness, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import StackError


def port_in_use(host: str, port: int) -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def require_free_ports(service: str, host: str, ports: dict[str, int]) -> None:
    """Raise if any named port is already taken by another process."""
    for env_name, port in ports.items():
        if port_in_use(host, port):
            raise StackError(
                f"cannot start {service}: port {port} on {host} is already in use by "
                f"another process; stop that process or set {env_name} to a free port"
            )


def read_pid(pid_file: Path) -> int | None:
    """The pid recorded in ``pid_file`` if that process is still alive, else None."""
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    if _is_zombie(pid):
        return None
    return pid


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def spawn(
    command: Sequence[str],
    *,
    pid_file: Path,
    log_file: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``command`` detached from this process group, logging to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            list(command),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
    pid_file.write_text(f"{process.pid}\n")
    return process.pid


def tail(log_file: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a log file (empty if it does not exist)."""
    try:
        content = log_file.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    return "\n".join(content[-lines:])


def wait_ready(
    service: str,
    *,
    pid: int,
    probe: Callable[[], bool],
    timeout: float,
    log_file: Path,
    pid_file: Path,
    progress: Callable[[str], None],
) -> float:
    """Poll ``probe`` until it is true; return the seconds waited.

    If the process dies or ``timeout`` passes first, the process is stopped and a
    StackError carrying the end of its log is raised.
    """
    started = time.monotonic()
    next_note = started + 10
    while True:
        if probe():
            return time.monotonic() - started
        if read_pid(pid_file) != pid:
            raise StackError(
                f"{service} exited during startup; last lines of {log_file}:\n{tail(log_file)}"
            )
        now = time.monotonic()
        if now - started > timeout:
            stop_pid(pid, grace=10)
            pid_file.unlink(missing_ok=True)
            raise StackError(
                f"{service} did not become ready within {timeout:g}s (raise "
                f"{service.upper()}_START_TIMEOUT if the machine is slow); "
                f"last lines of {log_file}:\n{tail(log_file)}"
            )
        if now >= next_note:
            progress(f"  ... still waiting for {service} ({now - started:.0f}s)")
            next_note = now + 10
        time.sleep(0.5)


def stop_pid(pid: int, *, grace: float = 30) -> None:
    """SIGTERM the process group, then SIGKILL it after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                reaped, _ = os.waitpid(pid, os.WNOHANG)
                if reaped == pid:
                    return
            except ChildProcessError:
                pass
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            if _is_zombie(pid):
                return
            time.sleep(0.2)
