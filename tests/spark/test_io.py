"""Reading a Kafka offset range on the driver, against the real broker."""

from __future__ import annotations

import pytest
from django.conf import settings
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from spark.io import fetch_on_driver
from spark.offsets import OffsetRange

pytestmark = pytest.mark.integration
VALUE_BYTES = 1000


@pytest.fixture
def two_partition_topic(services_up, unique_name: str) -> str:
    """A fresh topic: 10 records on partition 0 and 5 on partition 1, each value
    ``VALUE_BYTES`` long and naming its partition and number."""
    admin = KafkaAdminClient(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    admin.create_topics([NewTopic(unique_name, num_partitions=2, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, acks="all")
    for partition, count in ((0, 10), (1, 5)):
        for n in range(count):
            producer.send(unique_name, _value(partition, n), partition=partition)
    producer.flush(timeout=30)
    producer.close()
    return unique_name


def _value(partition: int, n: int) -> bytes:
    return f"{partition}:{n}:".encode().ljust(VALUE_BYTES, b".")


def _fetch(topic: str, *, max_bytes: int) -> list | None:
    offsets = OffsetRange(start={topic: {"0": 2, "1": 0}}, end={topic: {"0": 8, "1": 5}})
    bootstrap = ",".join(settings.KAFKA_BOOTSTRAP_SERVERS)
    return fetch_on_driver(bootstrap=bootstrap, offsets=offsets, max_bytes=max_bytes)


def test_the_driver_reads_exactly_the_range_of_every_partition(two_partition_topic: str) -> None:
    rows = _fetch(two_partition_topic, max_bytes=11 * VALUE_BYTES)
    assert rows is not None
    expected = [(two_partition_topic, 0, n, _value(0, n)) for n in range(2, 8)]
    expected += [(two_partition_topic, 1, n, _value(1, n)) for n in range(5)]
    assert sorted(rows) == expected


def test_a_range_past_the_byte_bound_is_left_to_spark(two_partition_topic: str) -> None:
    assert _fetch(two_partition_topic, max_bytes=11 * VALUE_BYTES - 1) is None
