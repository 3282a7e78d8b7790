"""Freshness benchmark (on demand; needs `make services`): the time from an event's
202 until the rollups count it, under a steady trickle, with default settings.

The whole system runs as in ``make run``: gunicorn, the ingestion worker, the
aggregation worker (warm SparkSession) and Celery beat with the default schedule,
on fresh topics, a separate keyspace (``bench_analytics``) and a temporary database.
A client sends one event every ``1/RATE`` seconds for ``SECONDS``; a poller reads
the day's count for the event every 100 ms. Event *i* (in the order of the 202s)
is counted when the count reaches *i*.

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

from tests.benchmarks.report import Figure, figures_argument, publish

REPO = Path(__file__).resolve().parents[2]
PORT = int(os.environ.get("BENCH_PORT", "8766"))
ENV = {
    "DJANGO_SETTINGS_MODULE": "analytics_site.settings",
    "KAFKA_TOPIC_PREFIX": f"bench-{uuid.uuid4().hex[:8]}.events",
    "CASSANDRA_KEYSPACE": "bench_analytics",
    "DATABASE_URL": f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3",
    "CELERY_DEFAULT_QUEUE": f"bench-{uuid.uuid4().hex[:6]}",
    "AGGREGATION_QUEUE": f"bench-aggregation-{uuid.uuid4().hex[:6]}",
    "INGEST_RATE_LIMIT": "0",
    "QUERY_RATE_LIMIT": "0",
}
os.environ |= ENV
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


def post(conn: http.client.HTTPConnection, key: str, event: dict) -> None:
    body = json.dumps(event)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    conn.request("POST", "/api/v1/events", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    if response.status != 202:
        raise RuntimeError(f"HTTP {response.status}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seconds", nargs="?", type=float, default=120)
    parser.add_argument("rate", nargs="?", type=float, default=10, help="events per second")
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
        counted_at: dict[int, float] = {}
        done = threading.Event()

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
            post(conn, keys["write"], {"name": NAME})
            accepted.append(time.perf_counter())
            sent += 1
            time.sleep(max(0.0, started + sent / rate - time.perf_counter()))
        done.set()
        poller.join(timeout=300)
        lags = [counted_at[i + 1] - t for i, t in enumerate(accepted) if i + 1 in counted_at]
        assert len(lags) == len(accepted), f"{len(accepted) - len(lags)} events never counted"
        q = statistics.quantiles(lags, n=100)
        runs = JobRun.objects.filter(records_read__gt=0, status="succeeded")
        durations: list[float] = []
        for run in runs:  # a succeeded run has finished_at (aggregation._record_success)
            assert run.seconds is not None, f"succeeded run {run.pk} has no finished_at"
            durations.append(run.seconds)
        from django.conf import settings

        # The floor of a scheduled micro-batch design: an event waits for the next
        # beat (one interval at worst) and then for one run.
        floor = settings.AGGREGATION_INTERVAL_SECONDS + statistics.median(durations)
        floor_is = (
            f"beat interval ({settings.AGGREGATION_INTERVAL_SECONDS} s) + median run "
            f"({statistics.median(durations):.1f} s, {len(durations)} runs)"
        )
        publish(
            [
                Figure(
                    "freshness",
                    "202 to counted, p50",
                    statistics.median(lags),
                    floor,
                    floor_is,
                    "s",
                ),
                Figure("freshness", "202 to counted, p95", q[94], floor, floor_is, "s", "≤ 15 s"),
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
