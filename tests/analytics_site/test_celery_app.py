"""The Celery module is the plain Celery-Django pattern; apps connect their worker hooks
from ``AppConfig.ready()``."""

from __future__ import annotations

import ast
from pathlib import Path

from celery.signals import worker_ready

import analytics_site.celery
from events.tasks import drain_on_worker_ready


def test_the_celery_module_imports_no_app() -> None:
    imported: set[str | None] = set()
    for node in ast.walk(ast.parse(Path(analytics_site.celery.__file__).read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported == {"os", "celery"}


def test_events_connects_the_drain_at_worker_start_from_ready() -> None:
    # EventsConfig.ready() connects it once, under its dispatch_uid (not by a decorator)
    receivers = {key[0]: ref() for key, ref in worker_ready.receivers}
    assert receivers == {"events.drain_on_worker_ready": drain_on_worker_ready}
