"""Create the event topics with the partition count, replication and min ISR from settings."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from .topics import all_topics


@dataclass(frozen=True)
class TopicPlan:
    partitions: int
    replication_factor: int
    min_insync_replicas: int

    @classmethod
    def from_settings(cls) -> TopicPlan:
        return cls(
            partitions=settings.KAFKA_TOPIC_PARTITIONS,
            replication_factor=settings.KAFKA_TOPIC_REPLICATION_FACTOR,
            min_insync_replicas=settings.KAFKA_TOPIC_MIN_INSYNC_REPLICAS,
        )

    def new_topic(self, name: str) -> NewTopic:
        return NewTopic(
            name,
            num_partitions=self.partitions,
            replication_factor=self.replication_factor,
            topic_configs={"min.insync.replicas": str(self.min_insync_replicas)},
        )


def ensure_topics(plan: TopicPlan) -> tuple[list[str], list[str]]:
    """Create every missing topic of :func:`events.topics.all_topics` with ``plan``.

    Returns (created, already existing); existing topics are left as they are.
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
        return created, sorted(set(all_topics()) - set(created))
    finally:
        admin.close()
