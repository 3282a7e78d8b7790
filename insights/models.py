"""Cassandra tables (django-cassandra-engine models), designed query-first.

``RawEvent`` keeps every accepted event once: a partition per project, event name
and UTC day, clustered by event time (``event_time``) then ``event_id`` (the idempotency key), so
rewriting the same event is an upsert and a time-range scan reads one partition
per day.
"""

from __future__ import annotations

from cassandra.cqlengine import columns
from django_cassandra_engine.models import DjangoCassandraModel


class RawEvent(DjangoCassandraModel):
    """One accepted event, as the Spark job stores it."""

    __table_name__ = "raw_events"

    project_id = columns.Text(partition_key=True)
    name = columns.Text(partition_key=True)
    day = columns.Date(partition_key=True)
    event_time = columns.DateTime(primary_key=True, clustering_order="ASC")
    event_id = columns.Text(primary_key=True, clustering_order="ASC")
    category = columns.Text()
    distinct_id = columns.Text()
    received_at = columns.DateTime()
    properties = columns.Text(default="{}")
    context = columns.Text(default="{}")
    source = columns.Text()

    class Meta:
        get_pk_field = "event_id"
