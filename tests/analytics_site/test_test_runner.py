"""``python manage.py test`` hands over to pytest: same suite, same exit codes."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT


def _manage_test(*labels: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "test", *labels],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_manage_py_test_runs_pytest_on_the_given_labels() -> None:
    result = _manage_test("tests/events/test_createproject.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_manage_py_test_fails_when_pytest_fails() -> None:
    result = _manage_test("tests/events/test_createproject.py::no_such_test")
    assert result.returncode != 0
    assert "no_such_test" in result.stdout + result.stderr
