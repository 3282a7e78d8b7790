"""Create the event topics with the partition count, replication, min ISR and retention
from settings; the retention is set on existing topics too."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from .topics import all_topics


@dataclass(frozen=True)
class TopicPlan:
    partitions: int
    replication_factor: int
    min_insync_replicas: int
    retention_hours: int = 168

    @property
    def configs(self) -> dict[str, str]:
        return {
            "min.insync.replicas": str(self.min_insync_replicas),
            "retention.ms": str(self.retention_hours * 3_600_000),
        }

    @classmethod
    def from_settings(cls) -> TopicPlan:
        return cls(
            partitions=settings.KAFKA_TOPIC_PARTITIONS,
            replication_factor=settings.KAFKA_TOPIC_REPLICATION_FACTOR,
            min_insync_replicas=settings.KAFKA_TOPIC_MIN_INSYNC_REPLICAS,
            retention_hours=settings.KAFKA_TOPIC_RETENTION_HOURS,
        )

    def new_topic(self, name: str) -> NewTopic:
        return NewTopic(
            name,
            num_partitions=self.partitions,
            replication_factor=self.replication_factor,
            topic_configs=self.configs,
        )


def ensure_topics(plan: TopicPlan) -> tuple[list[str], list[str]]:
    """Create every missing topic of :func:`events.topics.all_topics` with ``plan``.

    Returns (created, already existing); an existing topic gets the plan's retention
    (its partitions and replication are left as they are).
    """
    admin = KafkaAdminClient(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, client_id="create-topics"
    )
    try:
        existing = set(admin.list_topics())
        missing = [name for name in all_topics() if name not in existing]
        created = []
        for name in missing:
            try:
                admin.create_topics([plan.new_topic(name)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # another instance created it meanwhile
        retention = {"retention.ms": plan.configs["retention.ms"]}
        existing_now = [name for name in all_topics() if name not in created]
        if existing_now:
            admin.alter_configs(
                [
                    ConfigResource(ConfigResourceType.TOPIC, name, configs=retention)
                    for name in existing_now
                ]
            )
        return created, sorted(set(all_topics()) - set(created))
    finally:
        admin.close()
