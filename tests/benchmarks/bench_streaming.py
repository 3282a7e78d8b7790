"""Structured Streaming against beat-triggered runs (on demand; needs `make services`).

Issue #16 asks whether Spark Structured Streaming (a short processing-time trigger and
``foreachBatch``) would count an event sooner than a run triggered by Celery beat.
This measures, on one warm SparkSession and the same topic:

- **streaming**: a streaming query on the Kafka source with a 0 s processing-time
  trigger whose ``foreachBatch`` only notes when each record arrives. This is the
  least any streaming design could cost: no lookup, no write.
- **beat-triggered**: what ships, ``run_aggregation`` every
  ``AGGREGATION_INTERVAL_SECONDS``, called from a thread of this process as beat's
  task calls it, aggregating for real into Cassandra; an event is done when its run
  commits. (``bench_freshness`` measures the real Celery beat and worker, 202 to
  counted.)

Each figure is the time from Kafka's acknowledgement of a record until it is seen
(streaming) or aggregated (beat). The events are produced directly to Kafka, one
every ``1/RATE`` s, so neither figure includes the 202 → Kafka step.

Run: ``.venv/bin/python -m tests.benchmarks.bench_streaming [SECONDS] [RATE]``
(defaults 30 s at 10 events/s)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable

from tests.benchmarks.isolation import isolate
from tests.benchmarks.report import Figure, figures_argument, publish, trickle_arguments

PREFIX = isolate()


def trickle(
    topic: str, *, seconds: float, rate: float, project: str, acked: dict[str, float]
) -> None:
    """Produce one envelope every ``1/rate`` s for ``seconds``; note each one's ack time."""
    from django.conf import settings
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, acks="all")
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        event_id = uuid.uuid4().hex
        now = dt.datetime.now(dt.UTC).isoformat()
        envelope = {
            "event_id": event_id,
            "project_id": project,
            "name": "page viewed",
            "category": "web",
            "distinct_id": f"user-{len(acked) % 50}",
            "timestamp": now,
            "received_at": now,
            "properties": {},
            "numeric_properties": {},
        }
        producer.send(topic, json.dumps(envelope).encode()).get(timeout=30)
        acked[event_id] = time.perf_counter()
        time.sleep(1 / rate)
    producer.close()


def streaming_lags(spark, topic: str, *, seconds: float, rate: float) -> list[float]:
    """Ack → ``foreachBatch`` for each record of a trickle, on a 0 s trigger."""
    from django.conf import settings

    seen: dict[str, float] = {}

    def note(batch, _batch_id: int) -> None:
        now = time.perf_counter()
        for row in batch.select("value").collect():
            seen.setdefault(json.loads(row.value)["event_id"], now)

    stream = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", ",".join(settings.KAFKA_BOOTSTRAP_SERVERS))
        .option("subscribe", topic)
        .option("startingOffsets", "latest")
        .load()
    )
    query = (
        stream.writeStream.foreachBatch(note)
        .trigger(processingTime="0 seconds")
        .option("checkpointLocation", tempfile.mkdtemp())
        .start()
    )
    try:
        while query.lastProgress is None:  # the first (empty) micro-batch fixed the start
            time.sleep(0.1)
        acked: dict[str, float] = {}
        trickle(topic, seconds=seconds, rate=rate, project=uuid.uuid4().hex, acked=acked)
        _wait_for(lambda: all(event_id in seen for event_id in acked), what="streaming")
    finally:
        query.stop()
    return [seen[event_id] - at for event_id, at in acked.items()]


def beat_lags(
    topic: str, *, seconds: float, rate: float, project: str
) -> tuple[dict[str, float], int]:
    """Ack → committed run for each event id of a trickle of ``project``, with
    ``run_aggregation`` called every AGGREGATION_INTERVAL_SECONDS; and how many runs
    read records."""
    from django.conf import settings

    from insights.aggregation import run_aggregation

    run_aggregation()  # start after what is already there
    done: dict[str, float] = {}
    acked: dict[str, float] = {}
    stop = threading.Event()
    runs = 0

    def beat() -> None:
        nonlocal runs
        while not stop.is_set():
            due = time.perf_counter() + settings.AGGREGATION_INTERVAL_SECONDS
            before = dict(acked)  # acked before the run planned its range
            run = run_aggregation()
            finished = time.perf_counter()
            if run.records_read:
                runs += 1
            for event_id in before:
                done.setdefault(event_id, finished)
            stop.wait(max(0.0, due - time.perf_counter()))

    worker = threading.Thread(target=beat)
    worker.start()
    try:
        trickle(topic, seconds=seconds, rate=rate, project=project, acked=acked)
        _wait_for(lambda: all(event_id in done for event_id in acked), what="beat")
    finally:
        stop.set()
        worker.join()
    return {event_id: done[event_id] - at for event_id, at in acked.items()}, runs


def stored_ids(project: str) -> set[str]:
    """The event ids of ``project`` in ``raw_events`` (yesterday and today, UTC)."""
    from insights.store import keyspace, session

    today = dt.datetime.now(dt.UTC).date()
    rows = session().execute(
        f"SELECT event_id FROM {keyspace()}.raw_events WHERE project_id=%s AND name='page viewed' "
        "AND day IN (%s, %s)",
        (project, today - dt.timedelta(days=1), today),
    )
    return {row["event_id"] for row in rows}


def _wait_for(condition: Callable[[], bool], *, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: records still unseen after {timeout:.0f} s")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    trickle_arguments(parser, seconds=30)
    figures_argument(parser)
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.management import call_command

    from events.topics import event_topics
    from insights.spark_runtime import get_session

    call_command("migrate", verbosity=0)
    call_command("sync_cassandra", verbosity=0)
    call_command("create_topics", verbosity=0)
    topic = event_topics()[0]
    spark = get_session()
    streaming = streaming_lags(spark, topic, seconds=args.seconds, rate=args.rate)
    project = uuid.uuid4().hex
    beat_by_id, runs = beat_lags(topic, seconds=args.seconds, rate=args.rate, project=project)
    missing = set(beat_by_id) - stored_ids(project)
    assert not missing, f"{len(missing)} events aggregated by a run are not in raw_events"
    beat = list(beat_by_id.values())
    print(f"beat: {len(beat)} events aggregated by {runs} runs; streaming: {len(streaming)} seen")
    streaming_q = statistics.quantiles(streaming, n=100)
    beat_q = statistics.quantiles(beat, n=100)
    baseline_is = "Structured Streaming, 0 s trigger, a foreachBatch that does nothing"
    publish(
        [
            Figure(
                "freshness",
                "Kafka to aggregated, beat-triggered runs, p50",
                statistics.median(beat),
                statistics.median(streaming),
                baseline_is,
                "s",
            ),
            Figure(
                "freshness",
                "Kafka to aggregated, beat-triggered runs, p95",
                beat_q[94],
                streaming_q[94],
                baseline_is,
                "s",
            ),
        ],
        args.figures_json,
    )


if __name__ == "__main__":
    main()
