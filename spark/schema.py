"""The store's names, defined once: event categories, granularities, Cassandra tables
and their columns.

Pure Python (no Django, no Spark), so every layer can import it: the ingestion (topics,
envelope validation), the Django models and selectors in ``insights``, and the Spark jobs.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """Where an event came from; each has its own Kafka topic and its own rollup rows."""

    WEB = "web"
    MOBILE = "mobile"
    SERVER = "server"
    OTHER = "other"


CATEGORIES: tuple[str, ...] = tuple(category.value for category in Category)
# The rollup rows of every category together (unique users cannot be summed across
# categories, so "all" has rows of its own).
ALL_CATEGORIES = "all"


class Granularity(StrEnum):
    """The bucket sizes the rollups are stored in (minutes are answered from raw events)."""

    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


# The granularities a run computes from events; months are derived from days.
EVENT_GRANULARITIES: tuple[str, ...] = (Granularity.HOUR.value, Granularity.DAY.value)
# A rollup partition holds one period of buckets: a month of hours, a year of days or months.
PERIOD_UNIT = {Granularity.HOUR: "month", Granularity.DAY: "year", Granularity.MONTH: "year"}
_PERIOD_STRFTIME = {"month": "%Y-%m", "year": "%Y"}
_PERIOD_SPARK_FORMAT = {"month": "yyyy-MM", "year": "yyyy"}


def period_strftime(granularity: str) -> str:
    """The ``strftime`` format of the ``period`` key of a ``granularity`` bucket."""
    return _PERIOD_STRFTIME[PERIOD_UNIT[Granularity(granularity)]]


def period_spark_format(granularity: str) -> str:
    """The same format for Spark's ``date_format``."""
    return _PERIOD_SPARK_FORMAT[PERIOD_UNIT[Granularity(granularity)]]


class Table(StrEnum):
    """The Cassandra tables (in the keyspace of the ``cassandra`` database setting)."""

    RAW_EVENTS = "raw_events"
    EVENT_IDS = "event_ids"
    BUCKET_USERS = "bucket_users"
    ROLLUPS = "rollups"
    USER_EVENTS = "user_events"


# Rollup metrics: "events" (count, uniques) or "property:<dotted path>" (count and the
# exact statistics).
EVENTS_METRIC = "events"
PROPERTY_PREFIX = "property:"

RAW_EVENT_COLUMNS = (
    "project_id",
    "name",
    "day",
    "event_time",
    "event_id",
    "category",
    "distinct_id",
    "received_at",
    "properties",
    "context",
    "numeric_properties",
    "source",
)
EVENT_ID_COLUMNS = ("project_id", "event_id", "name", "day", "batch_id")
# A raw event's primary key: its partition (project, name, UTC day), then its clustering.
RAW_EVENT_KEY = ("project_id", "name", "day", "event_time", "event_id")
# The index of a user's events (maintained by the aggregation, read by deletions): a
# partition per (project, distinct_id), each event's raw-event key after it.
USER_EVENT_KEY = ("project_id", "distinct_id", "name", "day", "event_time", "event_id")
# An event is identified by these two: the idempotency key end to end.
EVENT_KEY = ("project_id", "event_id")
ROLLUP_KEY = ("project_id", "name", "metric", "granularity", "period", "bucket", "category")
# A rollup partition: one period of buckets of one metric.
ROLLUP_PARTITION_KEY = ROLLUP_KEY[:5]
STATS = ("exact_sum", "exact_min", "exact_max")
ROLLUP_COLUMNS = (*ROLLUP_KEY, "count", "uniques", *STATS)
# Rows written before the exact statistics hold these legacy decimals instead.
LEGACY_STATS = {"exact_sum": "sum", "exact_min": "min", "exact_max": "max"}
STORED_ROLLUP_COLUMNS = (*ROLLUP_COLUMNS, *LEGACY_STATS.values())
BUCKET_USER_KEY = ("project_id", "name", "granularity", "bucket", "category", "distinct_id")
# A bucket of one category: what a ``bucket_users`` partition and an event rollup row share.
BUCKET_KEY = BUCKET_USER_KEY[:-1]
# The partition keys of the tables whose partitions hold many rows: rows written in
# this order reach Cassandra in batches of one partition, applied as one mutation
# (``event_ids`` has one row per partition, so no order helps it).
PARTITION_KEY: dict[str, tuple[str, ...]] = {
    Table.RAW_EVENTS: ("project_id", "name", "day"),
    Table.BUCKET_USERS: BUCKET_KEY,
    Table.ROLLUPS: ROLLUP_PARTITION_KEY,
    Table.USER_EVENTS: USER_EVENT_KEY[:2],
}
