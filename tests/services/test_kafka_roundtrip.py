"""Kafka is real: produce with kafka-python to a fresh topic and consume it back."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

pytestmark = pytest.mark.integration


def test_produce_then_consume_from_a_fresh_topic(services_up, unique_name: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    admin.create_topics([NewTopic(unique_name, num_partitions=1, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        acks="all",
    )
    sent = [{"n": n, "name": f"event-{n}"} for n in range(5)]
    for message in sent:
        producer.send(unique_name, json.dumps(message).encode())
    producer.flush(timeout=30)
    producer.close()

    consumer = KafkaConsumer(
        unique_name,
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=15000,
    )
    received = []
    for record in consumer:
        received.append(json.loads(record.value))
        if len(received) == len(sent):
            break
    consumer.close()
    assert received == sent
