"""`manage.py create_topics` on the real Kafka: partitions and min ISR applied, idempotent."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from django.core.management import call_command
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from events.topics import all_topics

if TYPE_CHECKING:
    from pytest_django.fixtures import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def admin(services_up: None, settings: Settings, unique_name: str) -> Iterator[KafkaAdminClient]:
    settings.KAFKA_TOPIC_PREFIX = unique_name
    client = KafkaAdminClient(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    yield client
    client.delete_topics(all_topics())
    client.close()


def test_topics_are_created_once_with_the_configured_shape(
    admin: KafkaAdminClient, settings: Settings
) -> None:
    settings.KAFKA_TOPIC_PARTITIONS = 2
    settings.KAFKA_TOPIC_REPLICATION_FACTOR = 1
    settings.KAFKA_TOPIC_MIN_INSYNC_REPLICAS = 2  # stored as given (one broker here)
    settings.KAFKA_TOPIC_RETENTION_HOURS = 48
    out = io.StringIO()
    call_command("create_topics", stdout=out)
    assert out.getvalue().count("created ") == len(all_topics())
    described = {t["name"]: t for t in admin.describe_topics(all_topics())}
    assert {name: len(t["partitions"]) for name, t in described.items()} == dict.fromkeys(
        all_topics(), 2
    )
    configs = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in all_topics()]
    )
    min_isr = {name: v["min.insync.replicas"]["value"] for name, v in configs["topic"].items()}
    assert min_isr == dict.fromkeys(all_topics(), "2")
    assert retention_ms(admin) == dict.fromkeys(all_topics(), str(48 * 3_600_000))
    settings.KAFKA_TOPIC_RETENTION_HOURS = 12  # a changed retention reaches existing topics
    again = io.StringIO()
    call_command("create_topics", stdout=again)
    assert again.getvalue().count("exists  ") == len(all_topics())
    assert "created" not in again.getvalue()
    assert retention_ms(admin) == dict.fromkeys(all_topics(), str(12 * 3_600_000))


def retention_ms(admin: KafkaAdminClient) -> dict[str, str]:
    configs = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in all_topics()]
    )
    return {name: v["retention.ms"]["value"] for name, v in configs["topic"].items()}
