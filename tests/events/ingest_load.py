"""The fault tests' load: batches posted through the native door, ids as accepted."""

from __future__ import annotations

import json

from rest_framework.test import APIClient


def post_batches(key: str, *, requests: int, per_request: int, tag: str) -> set[str]:
    """POST ``requests`` batches of ``per_request`` events (ids ``<tag>-<r>-<n>``, users
    spread over every shard); assert each is answered 202; the ids the API accepted."""
    client = APIClient()
    accepted: set[str] = set()
    for r in range(requests):
        batch = [
            {"name": "load", "event_id": f"{tag}-{r}-{n}", "distinct_id": f"user-{r}-{n}"}
            for n in range(per_request)
        ]
        response = client.generic(
            "POST",
            "/api/v1/events",
            json.dumps({"batch": batch}),
            "application/json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
        assert response.status_code == 202, response.content
        accepted.update(response.json()["event_ids"])
    return accepted
