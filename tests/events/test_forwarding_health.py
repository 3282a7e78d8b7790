"""Health shows forwarding degraded while accepted events wait too long for Kafka."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from rest_framework.test import APIClient

if TYPE_CHECKING:
    from pytest_django.fixtures import Settings

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_events_waiting_past_the_alert_time_degrade_health(
    project_keys: dict[str, str], settings: Settings
) -> None:
    settings.EVENTS_FORWARDING_LAG_ALERT_SECONDS = 1
    client = APIClient()
    before = client.get("/api/v1/health").json()["components"]["forwarding"]
    assert before["status"] == "up", before  # nothing waits in this test's streams yet
    for n in range(3):  # no worker serves this test's queue: the events wait
        response = client.post(
            "/api/v1/events",
            {"name": "a", "distinct_id": f"u{n}"},
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {project_keys['write_key']}",
        )
        assert response.status_code == 202
    time.sleep(1.5)
    forwarding = client.get("/api/v1/health").json()["components"]["forwarding"]
    assert forwarding["status"] == "degraded", forwarding
    assert forwarding["waiting_events"] == 3
    assert forwarding["oldest_waiting_seconds"] >= 1
