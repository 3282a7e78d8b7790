"""The raw-events job: the pure transform, then Kafka -> Spark -> Cassandra for real."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.conf import settings
from django.db import connections
from kafka import KafkaProducer

from insights.models import RawEvent
from spark.jobs.store_raw_events import RAW_EVENT_COLUMNS, run, transform_envelopes


def _envelope(event_id: str, *, project: str, when: str, amount: float) -> dict:
    return {
        "event_id": event_id,
        "project_id": project,
        "name": "purchase",
        "category": "web",
        "distinct_id": f"user-{event_id}",
        "timestamp": when,
        "received_at": when,
        "properties": {"amount": amount, "cart": {"items": 2}},
        "context": {"library": {"name": "test"}},
        "source": "native",
    }


def test_transform_parses_dedupes_and_drops_garbage(spark) -> None:
    envelopes = [
        _envelope("a", project="p1", when="2026-11-26T23:59:59.500Z", amount=1.5),
        _envelope("a", project="p1", when="2026-11-26T23:59:59.500Z", amount=1.5),
        _envelope("b", project="p1", when="2026-11-27T00:00:00Z", amount=2.0),
    ]
    values = [json.dumps(e).encode() for e in envelopes] + [b"not json", b'{"event_id": "x"}']
    records = spark.createDataFrame([(v,) for v in values], "value binary")

    rows = sorted(transform_envelopes(records).collect(), key=lambda r: r.event_id)

    assert [r.event_id for r in rows] == ["a", "b"]
    assert rows[0].asDict().keys() == set(RAW_EVENT_COLUMNS)
    assert rows[0].day == dt.date(2026, 11, 26)
    assert rows[1].day == dt.date(2026, 11, 27)
    assert json.loads(rows[0].properties) == {"amount": 1.5, "cart": {"items": 2}}
    assert rows[0].category == "web"


@pytest.mark.integration
@pytest.mark.django_db(databases=["default", "cassandra"])
def test_job_reads_kafka_and_writes_cassandra(spark, services_up, unique_name: str) -> None:
    keyspace = connections["cassandra"].settings_dict["NAME"]
    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, acks="all")
    expected = {}
    for n in range(20):
        event = _envelope(
            f"evt-{n}", project=unique_name, when=f"2026-11-26T10:{n:02d}:00Z", amount=n
        )
        expected[event["event_id"]] = n
        producer.send(unique_name, json.dumps(event).encode())
    producer.send(unique_name, json.dumps(_envelope("evt-3", project=unique_name,
                  when="2026-11-26T10:03:00Z", amount=3)).encode())  # fmt: skip
    producer.send(unique_name, b"garbage")
    producer.flush(timeout=30)
    producer.close()

    bootstrap = ",".join(settings.KAFKA_BOOTSTRAP_SERVERS)
    written = run(spark, bootstrap=bootstrap, topic=unique_name, keyspace=keyspace)
    assert written == 20

    def stored() -> dict[str, float]:
        rows = RawEvent.objects.filter(
            project_id=unique_name, name="purchase", day=dt.date(2026, 11, 26)
        )
        return {row.event_id: json.loads(row.properties)["amount"] for row in rows}

    assert stored() == expected
    # Rerunning over the same offsets changes nothing.
    run(spark, bootstrap=bootstrap, topic=unique_name, keyspace=keyspace)
    assert stored() == expected
