"""The OpenAPI schema (drf-spectacular) covers ingestion and the query API."""

from __future__ import annotations

import pytest
import yaml
from django.test import Client


@pytest.mark.django_db
def test_schema_lists_ingestion_and_query_endpoints() -> None:
    response = Client().get("/api/v1/schema")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    paths = schema["paths"]
    for path in (
        "/api/v1/events",
        "/api/v1/insights/{analysis}",
        "/v1/track",
        "/3.0/projects/{project_id}/events/{collection}",
        "/3.0/projects/{project_id}/queries/{analysis}",
    ):
        assert path in paths, path
    names = {p["name"] for p in paths["/api/v1/insights/{analysis}"]["get"]["parameters"]}
    assert {"event_collection", "timeframe", "interval", "kind", "window", "max_age"} <= names
