"""One kafka-python consumer per process and broker list, kept between runs to plan
offset ranges (partitions, beginning and end offsets; it never fetches records).

A new ``KafkaConsumer`` pays its connections and a metadata round trip (about
0.1 s on loopback) before it answers anything; the aggregation worker plans a range
every second, so it keeps one. Records are read by a consumer of their own
(``spark.io.fetch_on_driver``): one kept between fetches could hold records fetched
past the end of the last range, and kafka-python then stopped returning records for
the partition after it was assigned again (the run polled forever). ``borrowed`` lends it to one
caller at a time and closes it if the caller raises: the next caller gets a fresh
consumer, never one left half-assigned by a failure.

The consumer has no group (no commits: a run's offsets are committed with the run,
in the relational database) and refreshes its metadata every
``METADATA_MAX_AGE_MS``, so a partition added to a topic is planned within that time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from kafka import KafkaConsumer, TopicPartition

METADATA_MAX_AGE_MS = 30_000

_lock = threading.Lock()
# Keyed by process too: a forked child (Celery's prefork pool) never uses its parent's.
_idle: dict[tuple[int, tuple[str, ...]], KafkaConsumer] = {}


@contextmanager
def borrowed(bootstrap: Sequence[str]) -> Iterator[KafkaConsumer]:
    """The process's consumer for ``bootstrap`` (never assigned partitions: it only
    plans), for the ``with`` block; other threads wait for it. It is closed (and made
    again next time) if the block raises."""
    key = (os.getpid(), tuple(bootstrap))
    with _lock:
        consumer = _idle.pop(key, None) or KafkaConsumer(
            bootstrap_servers=list(bootstrap),
            enable_auto_commit=False,
            group_id=None,
            metadata_max_age_ms=METADATA_MAX_AGE_MS,
        )
        try:
            yield consumer
        except BaseException:
            consumer.close()
            raise
        _idle[key] = consumer


def partitions_of(consumer: KafkaConsumer, topics: Sequence[str]) -> list[TopicPartition]:
    """Every partition of those ``topics`` that exist, in topic and partition order,
    from the consumer's metadata (a topic it has not seen costs one refresh)."""
    return [
        TopicPartition(topic, partition)
        for topic in topics
        for partition in sorted(consumer.partitions_for_topic(topic) or ())
    ]
