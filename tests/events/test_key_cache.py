"""API keys are remembered per process for API_KEY_CACHE_SECONDS; a revocation takes
effect within that time (real database; the key's row is what is read)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from events.keys import hash_key
from events.models import ApiKey

if TYPE_CHECKING:
    from pytest_django.fixtures import Settings

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _post(key: str):
    return APIClient().post(
        "/api/v1/events", {"name": "a"}, format="json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )


def _key_reads(queries) -> int:
    return sum(ApiKey._meta.db_table in query["sql"] for query in queries)


def test_a_remembered_key_is_not_read_again(
    project_keys: dict[str, str], settings: Settings
) -> None:
    settings.API_KEY_CACHE_SECONDS = 60
    with CaptureQueriesContext(connection) as first:
        assert _post(project_keys["write_key"]).status_code == 202
    with CaptureQueriesContext(connection) as second:
        assert _post(project_keys["write_key"]).status_code == 202
    assert _key_reads(first.captured_queries) == 1
    assert _key_reads(second.captured_queries) == 0


def test_a_revocation_takes_effect_within_the_cache_time(
    project_keys: dict[str, str], settings: Settings
) -> None:
    settings.API_KEY_CACHE_SECONDS = 2
    key = project_keys["write_key"]
    assert _post(key).status_code == 202
    revoked = timezone.now()
    ApiKey.objects.filter(key_hash=hash_key(key)).update(revoked_at=revoked)
    assert _post(key).status_code == 202  # remembered: still valid for up to 2 s
    time.sleep(2.1)
    response = _post(key)
    assert response.status_code == 401, response.content
    assert "revoked" in response.json()["error"]["message"]


def test_without_a_cache_time_a_revocation_is_immediate(
    project_keys: dict[str, str], settings: Settings
) -> None:
    settings.API_KEY_CACHE_SECONDS = 0
    key = project_keys["write_key"]
    assert _post(key).status_code == 202
    ApiKey.objects.filter(key_hash=hash_key(key)).update(revoked_at=timezone.now())
    assert _post(key).status_code == 401
