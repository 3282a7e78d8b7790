"""spark/dedupe.py: one copy per event in a batch, and what other batches stored."""

from __future__ import annotations

from pyspark.sql import SparkSession

from spark.dedupe import dedupe_batch, not_seen
from spark.envelopes import parse_records, valid_events
from tests.spark.records import envelope, events_df, records


def test_dedupe_keeps_the_copy_at_the_lowest_offset(spark: SparkSession) -> None:
    copies = [
        envelope("a", "2026-11-26T10:00:00.003Z"),
        envelope("a", "2026-11-26T10:00:00.001Z"),
        envelope("b", "2026-11-26T10:00:00Z"),
        envelope("a", "2026-11-26T10:00:00.002Z", project_id="p2"),
    ]
    parsed = valid_events(parse_records(records(spark, copies)))
    kept = {(r.project_id, r.event_id): r.offset for r in dedupe_batch(parsed).collect()}
    assert kept == {("p1", "a"): 0, ("p1", "b"): 2, ("p2", "a"): 3}


def test_not_seen_keeps_rows_unseen_or_seen_only_by_this_batch(spark: SparkSession) -> None:
    batch = events_df(spark, [envelope(i, "2026-11-26T10:00:00Z") for i in "abcd"])
    seen = spark.createDataFrame(
        [("p1", "b", 7), ("p1", "c", 8), ("p2", "d", 7)],
        "project_id string, event_id string, batch_id long",
    )
    kept = not_seen(batch, seen, key=["project_id", "event_id"], batch_id=8)
    # "b" was stored by batch 7; "c" by this batch's interrupted attempt; "d" is another project's.
    assert sorted(r.event_id for r in kept.collect()) == ["a", "c", "d"]
