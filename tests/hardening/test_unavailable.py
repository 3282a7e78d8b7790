"""Queries while Cassandra is down answer 503 with Retry-After, naming it (never a 500),
in both error shapes; once it is back, the same query answers 200."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.conftest import run_stack

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "cassandra"]),
]


def test_queries_answer_503_while_cassandra_is_down(project_keys) -> None:
    client = APIClient()
    read = project_keys["read_key"]
    native: tuple[str, dict[str, Any]] = (
        "/api/v1/insights/count",
        {"HTTP_AUTHORIZATION": f"Bearer {read}"},
    )
    keen: tuple[str, dict[str, Any]] = (
        f"/3.0/projects/{project_keys['project_id']}/queries/count",
        {"HTTP_AUTHORIZATION": read},
    )
    params: dict[str, str | int] = {
        "event_collection": "x",
        "timeframe": "this_2_days",
        "max_age": 0,
    }
    assert client.get(native[0], params, **native[1]).status_code == 200

    assert run_stack("stop", "cassandra").returncode == 0
    try:
        down_native = client.get(native[0], params, **native[1])
        down_keen = client.get(keen[0], params, **keen[1])
    finally:
        started = run_stack("start", "cassandra")
        assert started.returncode == 0, started.stdout + started.stderr
    assert down_native.status_code == 503
    assert int(down_native["Retry-After"]) > 0
    assert "Cassandra" in down_native.json()["error"]["message"]
    assert down_keen.status_code == 503
    assert down_keen.json()["error_code"] == "ServiceUnavailableError"
    assert "Retry-After" in down_keen

    deadline = time.monotonic() + 90  # the driver reconnects on its own
    while (status := client.get(native[0], params, **native[1]).status_code) != 200:
        assert status == 503
        assert time.monotonic() < deadline, "queries did not recover after Cassandra's restart"
        time.sleep(2)
