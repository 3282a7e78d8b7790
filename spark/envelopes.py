"""Parse Kafka records into events: the envelope schema and a pure transform.

An envelope is the JSON the ingestion layer produces (``events/envelope.py``).
``parse_records`` splits Kafka records into valid events and invalid records
(with the reason), keeping each record's topic, partition and offset.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark.schema import RAW_EVENT_COLUMNS, Category

# A numeric property is kept as the text of its JSON number and computed on exactly
# (``spark/exact.py``); text that is not a JSON number is left out.
JSON_NUMBER = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$"

ENVELOPE_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType()),
        T.StructField("project_id", T.StringType()),
        T.StructField("name", T.StringType()),
        T.StructField("category", T.StringType()),
        T.StructField("distinct_id", T.StringType()),
        T.StructField("timestamp", T.StringType()),
        T.StructField("received_at", T.StringType()),
        T.StructField("source", T.StringType()),
        # Spark keeps a nested object as its JSON text when the field is a string.
        T.StructField("properties", T.StringType()),
        T.StructField("context", T.StringType()),
        T.StructField("numeric_properties", T.MapType(T.StringType(), T.StringType())),
    ]
)


_REQUIRED = ("event_id", "project_id", "name", "event_time")
# Where a record sits in Kafka; every parsed row keeps it.
RECORD_POSITION = ("topic", "partition", "offset")


def parse_records(records: DataFrame) -> DataFrame:
    """Kafka records -> one row per record: RAW_EVENT_COLUMNS, ``topic``, ``partition``,
    ``offset``, ``reason`` and ``value``.

    ``records`` has Kafka's columns (``value`` binary, ``topic``, ``partition``,
    ``offset``). ``properties`` and ``context`` stay JSON text; ``numeric_properties``
    maps dotted paths to the exact text of each number (any size, any digits).

    ``event_time`` is the event's timestamp, or its ``received_at`` when the
    timestamp is later (a client clock running ahead; ingestion accepts up to
    ``max_future_skew_seconds``): an event is never in the future of when it was
    received, so every hourly, daily and monthly bucket and the raw-event scan
    place it at the same moment.

    ``reason`` is null for a valid event; otherwise it
    says why the record is not one (not a JSON envelope, or no event_id, project_id,
    name or parseable timestamp), and ``value`` keeps the record's text for the DLQ.
    """
    raw = F.col("value").cast("string")
    parsed = records.select(
        *RECORD_POSITION, raw.alias("text"), F.from_json(raw, ENVELOPE_SCHEMA).alias("e")
    )
    rows = parsed.select(*RECORD_POSITION, "text", *_event_columns(), _not_envelope())
    reason = _reason()
    return rows.select(
        *[c for c in RAW_EVENT_COLUMNS if c != "day"],
        F.to_date("event_time").alias("day"),
        *RECORD_POSITION,
        reason.alias("reason"),
        F.when(reason.isNotNull(), F.col("text")).alias("value"),
    )


def _event_columns() -> list[Column]:
    """The event's columns (all of RAW_EVENT_COLUMNS but ``day``) of the parsed
    envelope ``e``, with their defaults."""
    received_at = F.to_timestamp(F.col("e.received_at"))
    timestamp = F.to_timestamp(F.col("e.timestamp"))
    no_numbers = F.create_map().cast("map<string,string>")
    return [
        F.col("e.event_id").alias("event_id"),
        F.col("e.project_id").alias("project_id"),
        F.col("e.name").alias("name"),
        F.coalesce(F.col("e.category"), F.lit(Category.OTHER.value)).alias("category"),
        F.col("e.distinct_id").alias("distinct_id"),
        F.when(received_at < timestamp, received_at).otherwise(timestamp).alias("event_time"),
        received_at.alias("received_at"),
        F.coalesce(F.col("e.properties"), F.lit("{}")).alias("properties"),
        F.coalesce(F.col("e.context"), F.lit("{}")).alias("context"),
        F.map_filter(
            F.coalesce(F.col("e.numeric_properties"), no_numbers),
            lambda _key, value: value.rlike(JSON_NUMBER),
        ).alias("numeric_properties"),
        F.col("e.source").alias("source"),
    ]


def _not_envelope() -> Column:
    """True where the record is not JSON, or JSON with none of the envelope's keys."""
    no_keys = F.col("e.event_id").isNull() & F.col("e.project_id").isNull()
    return (F.col("e").isNull() | (no_keys & F.col("e.name").isNull())).alias("not_envelope")


def _reason() -> Column:
    """Why a parsed row is not an event, or null for an event."""
    missing = [F.when(F.col(name).isNull(), F.lit(name)) for name in _REQUIRED]
    any_missing = F.lit(False)
    for name in _REQUIRED:
        any_missing = any_missing | F.col(name).isNull()
    return (
        F.when(F.col("not_envelope"), F.lit("not a JSON event envelope"))
        .when(any_missing, F.concat(F.lit("missing or invalid: "), F.concat_ws(", ", *missing)))
        .otherwise(F.lit(None))
    )


def valid_events(parsed: DataFrame) -> DataFrame:
    """The events among ``parse_records`` rows: RAW_EVENT_COLUMNS, topic, partition, offset."""
    return parsed.where(F.col("reason").isNull()).select(*RAW_EVENT_COLUMNS, *RECORD_POSITION)


def invalid_records(parsed: DataFrame) -> DataFrame:
    """The non-events among ``parse_records`` rows: topic, partition, offset, value, reason."""
    return parsed.where(F.col("reason").isNotNull()).select(*RECORD_POSITION, "value", "reason")
