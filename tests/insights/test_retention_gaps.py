"""Kafka retention overtaking the aggregation: records deleted before any run read them
are recorded as a gap on the JobRun, logged, shown in the admin and in health.

Real Kafka (records deleted with the admin API's DeleteRecords, as retention does),
Spark, Cassandra and the database.
"""

from __future__ import annotations

import json
import logging
import random
import uuid

import pytest
from django.conf import settings
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from rest_framework.test import APIClient

from events.topics import event_topics
from insights.aggregation import run_aggregation
from insights.lease import JOB
from insights.models import JobRun, KafkaOffset
from tests.insights.known_answer import expected_rollups, stored_rollups
from tests.insights.test_aggregation import START, generate, produce

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "cassandra"])]


def _position(consumer: KafkaConsumer, tp: TopicPartition) -> int:
    """The next offset to read: with no timeout, ``position`` waits until it is known."""
    offset = consumer.position(tp)
    assert offset is not None, tp
    return offset


def _records(topic: str) -> dict[int, list[tuple[int, str]]]:
    """Every record of ``topic`` as (offset, event_id), by partition."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, enable_auto_commit=False
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        ends = consumer.end_offsets(partitions)
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        found: dict[int, list[tuple[int, str]]] = {tp.partition: [] for tp in partitions}
        while any(_position(consumer, tp) < ends[tp] for tp in partitions):
            for tp, messages in consumer.poll(timeout_ms=1000).items():
                found[tp.partition] += [
                    (m.offset, json.loads(m.value)["event_id"]) for m in messages
                ]
        return found
    finally:
        consumer.close()


def test_records_deleted_before_aggregation_are_recorded_as_a_gap(
    spark, topic_prefix, admin_client, caplog
) -> None:
    project = uuid.uuid4().hex
    generated = generate(60, rng=random.Random(4), start=START, hours=6)
    events = [dict(e, category="web") for e in generated]
    produce(topic_prefix, events, project)
    web = f"{topic_prefix}.web"
    # An earlier run committed offset 0 everywhere: these records are due.
    for topic in event_topics():
        for partition in range(3):
            KafkaOffset.objects.create(job=JOB, topic=topic, partition=partition, offset=0)

    # Retention deletes the first half of every partition of the web topic.
    records = _records(web)
    cut = {p: len(rs) // 2 for p, rs in records.items() if len(rs) >= 2}
    assert cut, records
    admin = KafkaAdminClient(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    try:
        admin.delete_records({TopicPartition(web, p): n for p, n in cut.items()})
    finally:
        admin.close()
    lost = {event_id for p, rs in records.items() for offset, event_id in rs if offset < cut[p]}
    survivors = [e for e in events if e["event_id"] not in lost]
    assert len(lost) == sum(cut.values())
    assert survivors

    with caplog.at_level(logging.ERROR, logger="insights.aggregation"):
        run = run_aggregation()

    expected_gaps = [
        {"topic": web, "partition": p, "first": 0, "last": n - 1, "count": n}
        for p, n in sorted(cut.items())
    ]
    assert run.status == JobRun.Status.SUCCEEDED
    assert run.offset_gaps == expected_gaps
    assert JobRun.objects.get(pk=run.pk).offset_gaps == expected_gaps  # stored
    assert (run.records_read, run.events_written) == (len(survivors), len(survivors))
    assert stored_rollups(project) == expected_rollups(survivors)
    # Logged loudly, once per partition, naming the offsets.
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    for gap in expected_gaps:
        assert any(f"{web}[{gap['partition']}] offsets 0..{gap['last']}" in m for m in logged)

    # The admin shows it: the count in the list, the offsets on the run's page.
    listing = admin_client.get("/admin/insights/jobrun/").content.decode()
    assert "Records lost to Kafka retention" in listing
    assert f'<td class="field-records_lost">{len(lost)}</td>' in listing
    page = admin_client.get(f"/admin/insights/jobrun/{run.pk}/change/").content.decode()
    for gap in expected_gaps:
        shown = f"{web}[{gap['partition']}] offsets 0..{gap['last']} ({gap['count']} records)"
        assert shown in page

    # Health: up (it answers) but degraded, with the counts.
    response = APIClient().get("/api/v1/health")
    body = response.json()
    assert response.status_code == 200, body
    assert (body["status"], body["down"], body["degraded"]) == ("degraded", [], ["aggregation"])
    assert body["components"]["aggregation"]["status"] == "degraded"
    assert body["components"]["aggregation"]["offset_gaps"] == len(expected_gaps)
    assert body["components"]["aggregation"]["records_lost"] == len(lost)

    # The next run starts where the log starts now: no new gap, nothing reread.
    again = run_aggregation()
    assert (again.records_read, again.offset_gaps) == (0, [])


def test_a_failed_batch_redone_after_retention_records_its_gap(spark, topic_prefix) -> None:
    """A failed run's batch is redone from its stored offsets; if retention deleted the
    start of it meanwhile, the redo reads what is left and records what is not."""
    project = uuid.uuid4().hex
    generated = generate(40, rng=random.Random(6), start=START, hours=4)
    events = [dict(e, category="mobile") for e in generated]
    produce(topic_prefix, events, project)
    mobile = f"{topic_prefix}.mobile"
    records = _records(mobile)
    ends = {topic: {str(p): 0 for p in range(3)} for topic in event_topics()}
    ends[mobile] = {str(p): len(rs) for p, rs in records.items()}
    starts = {topic: {str(p): 0 for p in range(3)} for topic in event_topics()}
    JobRun.objects.create(
        job=JOB,
        trigger=JobRun.Trigger.SCHEDULE,
        batch_id=1,
        status=JobRun.Status.FAILED,
        start_offsets=starts,
        end_offsets=ends,
    )
    cut = {p: len(rs) // 2 for p, rs in records.items() if len(rs) >= 2}
    assert cut, records
    admin = KafkaAdminClient(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    try:
        admin.delete_records({TopicPartition(mobile, p): n for p, n in cut.items()})
    finally:
        admin.close()
    lost = {event_id for p, rs in records.items() for offset, event_id in rs if offset < cut[p]}
    survivors = [e for e in events if e["event_id"] not in lost]

    run_aggregation()
    redo = JobRun.objects.get(trigger=JobRun.Trigger.RETRY)
    assert (redo.status, redo.batch_id, redo.records_read) == ("succeeded", 1, len(survivors))
    assert redo.offset_gaps == [
        {"topic": mobile, "partition": p, "first": 0, "last": n - 1, "count": n}
        for p, n in sorted(cut.items())
    ]
    assert stored_rollups(project) == expected_rollups(survivors)
