"""``GET /api/v1/health``: real round trips; 200 when all are up, 503 naming what is down."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.conftest import run_stack

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "cassandra"])]

COMPONENTS = {"database", "redis", "kafka", "cassandra", "aggregation", "forwarding"}


def _health() -> tuple[int, dict]:
    response = APIClient().get("/api/v1/health")
    return response.status_code, response.json()


def test_all_components_up(services_up) -> None:
    code, body = _health()
    assert code == 200, body
    assert body["status"] == "ok"
    assert body["down"] == []
    assert set(body["components"]) == COMPONENTS
    for name, component in body["components"].items():
        assert component["status"] == "up", name
        assert component["latency_ms"] >= 0


def test_stopped_kafka_is_named_then_recovers(services_up) -> None:
    stopped = run_stack("stop", "kafka")
    assert stopped.returncode == 0, stopped.stderr
    try:
        code, body = _health()
        assert code == 503, body
        assert body["status"] == "unavailable"
        assert body["down"] == ["kafka"]
        assert body["components"]["kafka"]["status"] == "down"
        assert body["components"]["kafka"]["error"]
        assert body["components"]["cassandra"]["status"] == "up"
    finally:
        started = run_stack("start", "kafka")
        assert started.returncode == 0, started.stdout + started.stderr
    code, body = _health()
    assert code == 200, body
