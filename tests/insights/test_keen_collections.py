"""Keen's ``get_all_collections`` and ``get_collection`` through the unmodified ``keen``
client against a live server: events written through the same client, forwarded by a
real worker, and the schema compared with the types computed here from what was sent."""

from __future__ import annotations

import time

import pytest
from keen.exceptions import KeenApiError

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "cassandra"], transaction=True),
]

ENVELOPE = {
    "distinct_id": "string",
    "category": "string",
    "keen.timestamp": "datetime",
    "keen.created_at": "datetime",
    "keen.id": "string",
}


def types_of(events: list[dict]) -> dict[str, str]:
    """Path -> Keen type, computed independently: the last event's type wins."""
    found: dict[str, str] = {}

    def walk(node: dict, prefix: str) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            else:
                found[f"{prefix}{key}"] = (
                    "null"
                    if value is None
                    else "bool"
                    if value is True or value is False
                    else "num"
                    if isinstance(value, int | float)
                    else "list"
                    if isinstance(value, list)
                    else "string"
                )

    for event in events:
        walk(event, "")
    return dict(sorted({**found, **ENVELOPE}.items()))


def eventually(read, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return read()
        except (KeenApiError, AssertionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_collections_and_their_schemas_follow_what_was_sent(
    project_keys, live_server, forwarding_worker
) -> None:
    from keen.client import KeenClient

    client = KeenClient(
        project_id=project_keys["project_id"],
        write_key=project_keys["write_key"],
        read_key=project_keys["read_key"],
        base_url=live_server.url,
    )
    signups = [
        {"plan": "pro", "seats": 3, "trial": False, "user": {"id": "u1", "tags": ["a"]}},
        {"plan": "free", "seats": 1.5, "coupon": None, "user": {"id": "u2", "tags": []}},
    ]
    views = [{"page": "/home", "referrer": {"host": "example.com"}}]
    client.add_events({"signup": signups, "view": views})

    def both() -> list[dict]:
        found = client.get_all_collections()
        assert [c["name"] for c in found] == ["signup", "view"]
        return found

    found = eventually(both)
    base = f"/3.0/projects/{project_keys['project_id']}/events"
    assert found == [
        {"name": "signup", "properties": types_of(signups), "url": f"{base}/signup"},
        {"name": "view", "properties": types_of(views), "url": f"{base}/view"},
    ]
    assert client.get_collection("view")["properties"] == types_of(views)

    # a new property appears without any scan of the stored events
    later = [{"page": "/pricing", "referrer": {"host": "example.org"}, "ab": {"variant": 2}}]
    client.add_event("view", later[0])

    def grown() -> dict:
        schema = client.get_collection("view")
        assert "ab.variant" in schema["properties"]
        return schema

    assert eventually(grown)["properties"] == types_of(views + later)

    with pytest.raises(KeenApiError) as unknown:
        client.get_collection("never-sent")
    assert unknown.value.api_error["error_code"] == "ResourceNotFoundError"


def test_another_projects_key_sees_no_schema(project_keys, live_server) -> None:
    from keen.client import KeenClient

    from events.services import create_project_with_keys

    _, other = create_project_with_keys(name="other")
    client = KeenClient(
        project_id=project_keys["project_id"], read_key=other["read"], base_url=live_server.url
    )
    with pytest.raises(KeenApiError) as refused:
        client.get_all_collections()
    assert refused.value.api_error["error_code"] == "InvalidApiKeyError"
