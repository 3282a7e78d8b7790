"""``python manage.py test`` runs the same pytest suite as ``pytest``."""

from __future__ import annotations

import argparse
import sys
from typing import Any


class PytestTestRunner:
    """A Django TEST_RUNNER that hands the labels and flags to pytest."""

    def __init__(
        self, verbosity: int = 1, failfast: bool = False, keepdb: bool = False, **_: Any
    ) -> None:
        self.verbosity = verbosity
        self.failfast = failfast
        self.keepdb = keepdb

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--keepdb", action="store_true", help="Reuse the test databases.")

    def run_tests(self, test_labels: list[str], **_: Any) -> int:
        """Run pytest; return its exit code (Django exits with it)."""
        import pytest

        argv: list[str] = []
        if self.verbosity == 0:
            argv.append("--quiet")
        elif self.verbosity >= 2:
            argv.append("--verbose")
        if self.failfast:
            argv.append("--exitfirst")
        if self.keepdb:
            argv.append("--reuse-db")
        argv.extend(test_labels)
        code = int(pytest.main(argv))
        sys.stdout.flush()
        return code
