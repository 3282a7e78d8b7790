"""Test input for the transforms: envelopes as the ingestion writes them, as Kafka records."""

from __future__ import annotations

import json

from pyspark.sql import DataFrame, SparkSession

from spark.envelopes import parse_records, valid_events
from spark.io import KAFKA_RECORD_SCHEMA
from spark.schema import RAW_EVENT_COLUMNS, Category


def envelope(event_id: str, when: str, **fields: object) -> dict:
    """A valid envelope of project p1's "purchase" event at ``when``; ``fields`` override."""
    record = {
        "event_id": event_id,
        "project_id": "p1",
        "name": "purchase",
        "category": Category.WEB.value,
        "distinct_id": "u1",
        "timestamp": when,
        "received_at": when,
        "properties": {"amount": 1, "label": "12"},
        "context": {"ip": "127.0.0.1"},
        "source": "native",
        "numeric_properties": {"amount": 1},
    }
    return record | fields


def records(spark: SparkSession, values: list, topic: str = "t", partition: int = 0) -> DataFrame:
    """Kafka records of ``values`` (JSON-encoded unless bytes) at offsets 0, 1, ..."""
    rows = [
        (topic, partition, offset, v if isinstance(v, bytes) else json.dumps(v).encode())
        for offset, v in enumerate(values)
    ]
    return spark.createDataFrame(rows, KAFKA_RECORD_SCHEMA)


def events_df(spark: SparkSession, envelopes: list[dict]) -> DataFrame:
    """The parsed events of ``envelopes`` (RAW_EVENT_COLUMNS)."""
    return valid_events(parse_records(records(spark, envelopes))).select(*RAW_EVENT_COLUMNS)
