"""Counting once: pure transforms that keep one copy of each event in a batch, keep
what no other batch stored, and stamp rows with the batch that writes them.

A row stamped with the current batch (an earlier, interrupted attempt of the same
batch) counts as not stored yet, so a rerun of a batch redoes exactly what it had
begun (see ``spark.jobs.aggregate``).
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from spark.envelopes import RECORD_POSITION
from spark.schema import EVENT_KEY


def dedupe_batch(events: DataFrame) -> DataFrame:
    """One row per (project_id, event_id): the copy at the lowest (topic, partition, offset).

    Choosing by position, not arbitrarily, makes a rerun of the batch pick the same copy.
    """
    first = Window.partitionBy(*EVENT_KEY).orderBy(*RECORD_POSITION)
    return (
        events.withColumn("_copy", F.row_number().over(first))
        .where(F.col("_copy") == 1)
        .drop("_copy")
    )


def not_seen(rows: DataFrame, seen: DataFrame, *, key: Sequence[str], batch_id: int) -> DataFrame:
    """The rows of ``rows`` whose ``key`` is not in ``seen`` from a batch other than ``batch_id``.

    ``seen`` has ``key`` and ``batch_id`` (what is stored); rows stored by this same
    batch (an earlier, interrupted attempt) still count as unseen.
    """
    earlier = seen.where(F.col("batch_id") != F.lit(batch_id)).select(*key)
    return rows.join(earlier, list(key), "left_anti")


def stamped(rows: DataFrame, *, batch_id: int) -> DataFrame:
    """``rows`` with a ``batch_id`` column: the batch writing them."""
    return rows.withColumn("batch_id", F.lit(batch_id).cast("long"))
