"""Freshness benchmark (on demand; needs `make services`): the time from an event's
202 until the rollups count it, under a steady trickle, with default settings.

The whole system runs as in ``make run``: gunicorn, the ingestion worker, the
aggregation worker (warm SparkSession) and Celery beat with the default schedule,
on fresh topics, a separate keyspace (``bench_analytics``) and a temporary database.
A client sends one event every ``1/RATE`` seconds for ``SECONDS``; a poller reads
the day's count for the event every 100 ms. Event *i* (in the order of the 202s)
is counted when the count reaches *i*. Rate limits stay on, as ``make run`` has them.

The baseline is the floor of this design, measured in the same run: the time from
the 202 until the event is in Kafka (a consumer on the topics notes when each
accepted id arrives), plus a trivial Spark action on a warm session, plus half the
beat interval (the average wait for the next run).

Run: ``.venv/bin/python -m tests.benchmarks.bench_freshness [SECONDS] [RATE]``
(defaults 120 s at 10 events/s)
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from tests.benchmarks.isolation import isolate
from tests.benchmarks.report import Figure, figures_argument, publish, trickle_arguments

REPO = Path(__file__).resolve().parents[2]
PORT = int(os.environ.get("BENCH_PORT", "8766"))
ENV = {
    "CELERY_DEFAULT_QUEUE": f"bench-{uuid.uuid4().hex[:6]}",
    "AGGREGATION_QUEUE": f"bench-aggregation-{uuid.uuid4().hex[:6]}",
}
os.environ |= ENV
isolate()
NAME = "page viewed"


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=REPO,
        env=os.environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def post(conn: http.client.HTTPConnection, key: str, event: dict) -> str:
    """Send ``event``; its event id from the 202."""
    body = json.dumps(event)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    conn.request("POST", "/api/v1/events", body=body, headers=headers)
    response = conn.getresponse()
    answer = response.read()
    if response.status != 202:
        raise RuntimeError(f"HTTP {response.status}")
    return str(json.loads(answer)["event_ids"][0])


def watch_kafka(arrived: dict[str, float], stop: threading.Event) -> None:
    """Note in ``arrived`` when each event id reaches the event topics, until ``stop``."""
    from django.conf import settings
    from kafka import KafkaConsumer

    from events.topics import event_topics

    consumer = KafkaConsumer(
        *event_topics(),
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    try:
        while not stop.is_set():
            for messages in consumer.poll(timeout_ms=50).values():
                now = time.perf_counter()
                for message in messages:
                    arrived.setdefault(json.loads(message.value)["event_id"], now)
    finally:
        consumer.close()


def trivial_spark_action() -> float:
    """The median time of a trivial action on a warm session like the aggregator's."""
    from insights.spark_runtime import get_session

    spark = get_session()
    spark.range(1000).count()
    times = []
    for _ in range(5):
        started = time.perf_counter()
        spark.range(1000).count()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    trickle_arguments(parser, seconds=120)
    figures_argument(parser)
    args = parser.parse_args()
    seconds, rate = args.seconds, args.rate
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from events.services import create_project_with_keys
    from insights.models import JobRun

    call_command("migrate", verbosity=0)
    call_command("sync_cassandra", verbosity=0)
    project, keys = create_project_with_keys(name="freshness")
    session = connections["cassandra"].connection.session
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    query = session.prepare(
        "SELECT count FROM bench_analytics.rollups WHERE project_id=? AND name=? AND "
        "metric='events' AND granularity='day' AND period=? AND bucket=? AND category='all'"
    )

    def counted() -> int:
        row = session.execute(query, (project.id, NAME, f"{today:%Y}", today)).one()
        return (row or {}).get("count") or 0

    processes = [
        start("gunicorn", "analytics_site.wsgi", "--bind", f"127.0.0.1:{PORT}", "--workers", "2"),
        start(
            "celery",
            "-A",
            "analytics_site",
            "worker",
            "--concurrency",
            "2",
            "--queues",
            ENV["CELERY_DEFAULT_QUEUE"],
            "--loglevel",
            "WARNING",
        ),
        start(
            "celery",
            "-A",
            "analytics_site",
            "worker",
            "--concurrency",
            "1",
            "--queues",
            ENV["AGGREGATION_QUEUE"],
            "--loglevel",
            "WARNING",
        ),
        start(
            "celery",
            "-A",
            "analytics_site",
            "beat",
            "--loglevel",
            "WARNING",
            "--schedule",
            tempfile.mktemp(),
        ),
    ]
    try:
        for _ in range(100):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
                post(conn, keys["write"], {"name": NAME})
                break
            except OSError:
                time.sleep(0.3)
        print("warming up: waiting for the first event to be counted ...", flush=True)
        while counted() < 1:
            time.sleep(0.5)

        accepted: list[float] = []
        accepted_ids: list[str] = []
        counted_at: dict[int, float] = {}
        in_kafka: dict[str, float] = {}
        done = threading.Event()
        kafka_done = threading.Event()
        watcher = threading.Thread(target=watch_kafka, args=(in_kafka, kafka_done))
        watcher.start()

        def poll() -> None:
            seen = 1
            while not (done.is_set() and seen > len(accepted)):
                now = time.perf_counter()
                total = counted()
                for number in range(seen, total):
                    counted_at[number] = now
                seen = max(seen, total)
                time.sleep(0.1)

        poller = threading.Thread(target=poll)
        poller.start()
        started = time.perf_counter()
        print(f"trickle: {rate:g} events/s for {seconds:g} s ...", flush=True)
        sent = 0
        while time.perf_counter() - started < seconds:
            accepted_ids.append(post(conn, keys["write"], {"name": NAME}))
            accepted.append(time.perf_counter())
            sent += 1
            time.sleep(max(0.0, started + sent / rate - time.perf_counter()))
        done.set()
        poller.join(timeout=300)
        lags = [counted_at[i + 1] - t for i, t in enumerate(accepted) if i + 1 in counted_at]
        assert len(lags) == len(accepted), f"{len(accepted) - len(lags)} events never counted"
        kafka_done.set()
        watcher.join(timeout=60)
        missing = [event_id for event_id in accepted_ids if event_id not in in_kafka]
        assert not missing, f"{len(missing)} accepted events never reached Kafka"
        to_kafka = [in_kafka[i] - t for i, t in zip(accepted_ids, accepted, strict=True)]
        q = statistics.quantiles(lags, n=100)
        to_kafka_q = statistics.quantiles(to_kafka, n=100)
        trivial = trivial_spark_action()
        from django.conf import settings

        half_interval = settings.AGGREGATION_INTERVAL_SECONDS / 2
        runs = JobRun.objects.filter(records_read__gt=0, status="succeeded").count()

        def floor(to_kafka_seconds: float) -> tuple[float, str]:
            text = (
                f"202→Kafka ({to_kafka_seconds:.2f} s) + trivial Spark action "
                f"({trivial:.2f} s) + half the beat interval ({half_interval:g} s)"
            )
            return to_kafka_seconds + trivial + half_interval, text

        print(f"{len(accepted)} events counted by {runs} runs", flush=True)
        publish(
            [
                Figure(
                    "freshness",
                    "202 to counted, p50",
                    statistics.median(lags),
                    *floor(statistics.median(to_kafka)),
                    "s",
                    "≤ 2.5 s",
                ),
                Figure(
                    "freshness", "202 to counted, p95", q[94], *floor(to_kafka_q[94]), "s", "≤ 4 s"
                ),
            ],
            args.figures_json,
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)


if __name__ == "__main__":
    main()
