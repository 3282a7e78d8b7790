"""Kafka topic names, defined once: one topic per category plus the dead-letter queue."""

from __future__ import annotations

from django.conf import settings

from spark.schema import CATEGORIES, Category


def topic_for(category: str) -> str:
    """``analytics.events.<category>``; an unknown category goes to ``...other``."""
    suffix = category if category in CATEGORIES else Category.OTHER.value
    return f"{settings.KAFKA_TOPIC_PREFIX}.{suffix}"


def dlq_topic() -> str:
    """Where records that cannot be processed go, with the reason."""
    return f"{settings.KAFKA_TOPIC_PREFIX}.dlq"


def event_topics() -> list[str]:
    """The topics holding events (what the aggregation reads)."""
    return [topic_for(category) for category in CATEGORIES]


def all_topics() -> list[str]:
    return [*event_topics(), dlq_topic()]
