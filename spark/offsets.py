"""Kafka offset ranges for one batch run, worked out with kafka-python on the driver.

Offsets are plain data, ``{topic: {partition: offset}}`` (JSON-friendly, partitions
as strings), so the caller can store a run's end offsets and hand them back as the
next run's start. A range's end is exclusive, as in Kafka and Spark.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from kafka import TopicPartition

from spark import kafka_reader

Offsets = dict[str, dict[str, int]]


@dataclass(frozen=True)
class OffsetGap:
    """Records ``[first, last]`` of a partition that were deleted (retention) before
    they were read: ``count`` records that no run will ever aggregate."""

    topic: str
    partition: int
    first: int
    last: int

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    def as_dict(self) -> dict[str, str | int]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "first": self.first,
            "last": self.last,
            "count": self.count,
        }


@dataclass(frozen=True)
class OffsetRange:
    """Records ``[start, end)`` of every partition of every topic in it; ``gaps`` are
    the records before ``start`` that were due but deleted before they were read."""

    start: Offsets
    end: Offsets
    gaps: tuple[OffsetGap, ...] = ()

    @property
    def records(self) -> int:
        return sum(
            end - self.start[topic][partition]
            for topic, partitions in self.end.items()
            for partition, end in partitions.items()
        )

    def spark_options(self) -> dict[str, str]:
        """Options for Spark's Kafka source reading exactly this range (partitions
        with nothing to read are left out, so they cost no task)."""
        busy: dict[str, list[str]] = {}
        for topic, partitions in self.end.items():
            for partition, end in partitions.items():
                if end > self.start[topic][partition]:
                    busy.setdefault(topic, []).append(partition)
        return {
            "assign": json.dumps({t: [int(p) for p in ps] for t, ps in busy.items()}),
            "startingOffsets": json.dumps(_pick(self.start, busy)),
            "endingOffsets": json.dumps(_pick(self.end, busy)),
        }


def _pick(offsets: Offsets, partitions: dict[str, list[str]]) -> dict[str, dict[str, int]]:
    return {topic: {p: offsets[topic][p] for p in ps} for topic, ps in partitions.items()}


def plan_range(
    *,
    bootstrap: list[str],
    topics: list[str],
    committed: Offsets,
    max_records_per_partition: int | None = None,
    from_timestamp_ms: int | None = None,
    from_offset: int | None = None,
) -> OffsetRange:
    """The range a run should read: from ``committed`` (or the earliest offset for a
    partition never read) to the latest offset, at most ``max_records_per_partition``
    per partition. ``from_timestamp_ms`` or ``from_offset`` replace the start (a replay);
    both are clamped to what the partition still holds. Topics that do not exist yet
    are left out; partitions with nothing new are kept with start == end.

    A ``committed`` offset below the partition's log start means retention deleted
    records before any run read them: the range starts at the log start and the lost
    records are reported in ``gaps`` (never silently; a replay reports none).
    """
    with kafka_reader.borrowed(bootstrap) as consumer:
        partitions = kafka_reader.partitions_of(consumer, topics)
        earliest = consumer.beginning_offsets(partitions)
        latest = consumer.end_offsets(partitions)
        by_time = {}
        if from_timestamp_ms is not None:
            by_time = consumer.offsets_for_times({tp: from_timestamp_ms for tp in partitions})

    start: Offsets = {}
    end: Offsets = {}
    gaps: list[OffsetGap] = []
    for tp in partitions:
        key = str(tp.partition)
        low, high = earliest[tp], latest[tp]
        if from_timestamp_ms is not None:
            found = by_time.get(tp)
            begin = found.offset if found is not None else high
        elif from_offset is not None:
            begin = from_offset
        else:
            begin = committed.get(tp.topic, {}).get(key, low)
            if begin < low:
                gaps.append(OffsetGap(tp.topic, tp.partition, first=begin, last=low - 1))
        begin = min(max(begin, low), high)
        stop = high
        if max_records_per_partition is not None:
            stop = min(high, begin + max_records_per_partition)
        start.setdefault(tp.topic, {})[key] = begin
        end.setdefault(tp.topic, {})[key] = stop
    return OffsetRange(start=start, end=end, gaps=tuple(gaps))


def clamp_to_log_start(offsets: OffsetRange, *, bootstrap: list[str]) -> OffsetRange:
    """``offsets`` with every start raised to what its partition still holds: the
    records retention deleted since the range was planned (a batch being redone) are
    reported in ``gaps`` instead of being read."""
    partitions = [
        TopicPartition(topic, int(partition))
        for topic, ends in offsets.end.items()
        for partition, end in ends.items()
        if end > offsets.start[topic][partition]
    ]
    earliest = {}
    if partitions:
        with kafka_reader.borrowed(bootstrap) as consumer:
            earliest = consumer.beginning_offsets(partitions)
    start = {topic: dict(partitions) for topic, partitions in offsets.start.items()}
    gaps = list(offsets.gaps)
    for tp, low in sorted(earliest.items(), key=lambda item: (item[0].topic, item[0].partition)):
        begin, end = start[tp.topic][str(tp.partition)], offsets.end[tp.topic][str(tp.partition)]
        if begin < low:
            gaps.append(OffsetGap(tp.topic, tp.partition, first=begin, last=min(low, end) - 1))
            start[tp.topic][str(tp.partition)] = min(low, end)
    return OffsetRange(start=start, end=offsets.end, gaps=tuple(gaps))
