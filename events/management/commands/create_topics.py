"""``manage.py create_topics``: the event topics, replicated as settings say (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from events.kafka_topics import TopicPlan, ensure_topics


class Command(BaseCommand):
    help = (
        "Create the Kafka event topics and the DLQ with KAFKA_TOPIC_PARTITIONS, "
        "KAFKA_TOPIC_REPLICATION_FACTOR and KAFKA_TOPIC_MIN_INSYNC_REPLICAS."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        plan = TopicPlan.from_settings()
        created, existing = ensure_topics(plan)
        for name in created:
            self.stdout.write(
                f"created {name}: {plan.partitions} partitions, replication "
                f"{plan.replication_factor}, min.insync.replicas {plan.min_insync_replicas}"
            )
        for name in existing:
            self.stdout.write(f"exists  {name}")
