"""Cassandra is real: write a django-cassandra-engine model in the test keyspace, read it back."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connections

from insights.models import RawEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "cassandra"])]


def test_raw_event_round_trip_in_the_test_keyspace(services_up, unique_name: str) -> None:
    keyspace = connections["cassandra"].settings_dict["NAME"]
    assert keyspace.startswith("test_"), "tests must never write the live keyspace"
    when = dt.datetime(2026, 11, 26, 12, 30, 15, 123000)
    event = {
        "project_id": unique_name,
        "name": "signup",
        "day": when.date(),
        "event_time": when,
        "event_id": "evt-1",
        "category": "web",
        "distinct_id": "user-7",
        "received_at": when,
        "properties": json.dumps({"plan": "pro", "amount": 12.5}),
    }
    RawEvent.create(**event)
    RawEvent.create(**event)  # a redelivery of the same event_id is an upsert, not a new row

    rows = list(RawEvent.objects.filter(project_id=unique_name, name="signup", day=when.date()))
    assert len(rows) == 1
    row = rows[0]
    assert row.event_id == "evt-1"
    assert row.event_time == when
    assert json.loads(row.properties) == {"plan": "pro", "amount": 12.5}

    session = connections["cassandra"].connection.session
    tables = session.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", [keyspace]
    )
    assert "raw_events" in {t["table_name"] for t in tables}
