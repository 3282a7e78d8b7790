"""Hardening fixtures: every test enqueues to its own Celery queue (see tests/events)."""

from tests.events.conftest import private_queue  # noqa: F401  (autouse fixture)
