"""The OpenAPI schema states the limits the validation enforces (no hand-copied numbers)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml
from django.test import Client

from events.envelope import EventValidationError
from events.limits import current_limits
from events.normalize import normalize_native


def _native_request_schema() -> dict:
    response = Client().get("/api/v1/schema")
    assert response.status_code == 200
    operation = yaml.safe_load(response.content)["paths"]["/api/v1/events"]["post"]
    return operation["requestBody"]["content"]["application/json"]["schema"]


def _accepts(**event: object) -> bool:
    try:
        normalize_native(
            {"name": "e", **event},
            project_id="p",
            received_at=datetime(2026, 1, 1, tzinfo=UTC),
            limits=current_limits(),
        )
    except EventValidationError:
        return False
    return True


@pytest.mark.django_db
def test_native_event_id_max_length_is_the_enforced_limit() -> None:
    event = _native_request_schema()["oneOf"][0]
    stated = event["properties"]["event_id"]["maxLength"]
    assert stated == current_limits().max_event_id_length
    assert _accepts(event_id="x" * stated)
    assert not _accepts(event_id="x" * (stated + 1))


@pytest.mark.django_db
def test_native_name_distinct_id_and_batch_bounds_are_the_enforced_limits() -> None:
    event, batch = _native_request_schema()["oneOf"]
    limits = current_limits()
    assert event["properties"]["name"]["maxLength"] == limits.max_name_length
    assert event["properties"]["distinct_id"]["maxLength"] == limits.max_distinct_id_length
    assert batch["properties"]["batch"]["maxItems"] == limits.max_batch_events
    assert not _accepts(name="n" * (limits.max_name_length + 1))
    assert not _accepts(distinct_id="d" * (limits.max_distinct_id_length + 1))
