"""``manage.py index_user_events`` against the real services: events stored without
their ``user_events`` rows (as before the index existed) are indexed exactly, and a
user's deletion then finds and removes them."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connections

from insights.aggregation import run_aggregation
from tests.insights.test_deletions import (  # noqa: F401  (fixtures)
    DELETED,
    USERS,
    aggregation_queue,
    assert_exactly,
    master_client,
    stored,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "cassandra"], transaction=True),
]


def _index(project_id: str) -> set[tuple]:
    session = connections["cassandra"].connection.session
    keyspace = connections["cassandra"].settings_dict["NAME"]
    rows = session.execute(
        f"SELECT distinct_id, name, event_id FROM {keyspace}.user_events "
        "WHERE project_id = %s ALLOW FILTERING",
        (project_id,),
    )
    return {tuple(row.values()) for row in rows}


def test_events_stored_before_the_index_are_indexed_and_then_deleted(
    stored,  # noqa: F811
    aggregation_queue,  # noqa: F811
) -> None:
    keys, events = stored
    project_id = keys["project_id"]
    expected = {(e["distinct_id"], e["name"], e["event_id"]) for e in events if e["distinct_id"]}
    assert _index(project_id) == expected  # the aggregation writes it
    session = connections["cassandra"].connection.session
    keyspace = connections["cassandra"].settings_dict["NAME"]
    for user in USERS:  # as stored before the index existed
        session.execute(
            f"DELETE FROM {keyspace}.user_events WHERE project_id = %s AND distinct_id = %s",
            (project_id, user),
        )
    assert _index(project_id) == set()

    call_command("index_user_events", project=project_id)
    assert _index(project_id) == expected
    call_command("index_user_events", project=project_id)  # safe to repeat
    assert _index(project_id) == expected

    answer = master_client(keys).post("/api/v1/deletions", {"distinct_ids": DELETED}, format="json")
    assert answer.status_code == 202, answer.content
    run_aggregation()
    remaining = [e for e in events if e["distinct_id"] not in DELETED]
    assert len(remaining) < len(events) - 60
    assert_exactly(project_id, remaining)
    assert {row[0] for row in _index(project_id)} == set(USERS) - set(DELETED)
