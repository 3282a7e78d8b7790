"""The app's Cassandra session under the first concurrent requests of a fresh process
(gunicorn's gthread workers): every thread gets the session. cqlengine's lazy connect
marks a connection ready before its session exists, so without ``store._session``'s
wait 7 of 8 threads got None here (a 500 on a restarted web instance)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import threading
from insights import store
barrier = threading.Barrier(8)
found = []
def ask():
    barrier.wait()
    try:
        found.append(store.session() is not None)
    except Exception as exc:
        found.append(repr(exc))
threads = [threading.Thread(target=ask) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print("sessions:", found)
"""


def test_every_thread_of_a_fresh_process_gets_the_session(services_up) -> None:
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", SCRIPT],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        line = next(line for line in done.stdout.splitlines() if line.startswith("sessions:"))
        assert line == f"sessions: {[True] * 8}"
