"""Read back what reached the event topics since a point in time (test helper)."""

from __future__ import annotations

import json
import time

from django.conf import settings
from kafka import KafkaConsumer, TopicPartition

from events.kafka_topics import TopicPlan, ensure_topics
from events.topics import all_topics

TEST_TOPICS = TopicPlan(partitions=3, replication_factor=1, min_insync_replicas=1)


class KafkaTap:
    """Remembers the end offsets of every event topic; ``collect`` reads what came after."""

    def __init__(self) -> None:
        ensure_topics(TEST_TOPICS)
        self.consumer = KafkaConsumer(
            bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, enable_auto_commit=False
        )
        partitions = []
        for topic in all_topics():
            for _ in range(50):
                found = self.consumer.partitions_for_topic(topic)
                if found:
                    break
                time.sleep(0.1)
            partitions += [TopicPartition(topic, p) for p in sorted(found or [])]
        self.consumer.assign(partitions)
        self.consumer.seek_to_end()
        for partition in partitions:
            self.consumer.position(partition)

    def collect(
        self,
        *,
        project_id: str,
        expected: int = 0,
        event_ids: set[str] | None = None,
        timeout: float = 60,
        settle: float = 1.0,
    ) -> list[tuple[str, dict]]:
        """(topic, record) pairs of ``project_id``, waiting for ``expected`` distinct
        event_ids (or, when given, until every id of ``event_ids`` has arrived).

        Keeps reading ``settle`` seconds after the count is reached, so extra
        (duplicate) records would be seen too.
        """
        found: list[tuple[str, dict]] = []
        deadline = time.monotonic() + timeout
        settle_until = None
        while time.monotonic() < deadline:
            for partition, records in self.consumer.poll(timeout_ms=100).items():
                for record in records:
                    value = json.loads(record.value)
                    if value.get("project_id") == project_id:
                        found.append((partition.topic, value))
            ids = {value["event_id"] for _, value in found}
            done = event_ids <= ids if event_ids is not None else len(ids) >= expected
            if done:
                settle_until = settle_until or time.monotonic() + settle
                if time.monotonic() >= settle_until:
                    break
        return found

    def close(self) -> None:
        self.consumer.close()
