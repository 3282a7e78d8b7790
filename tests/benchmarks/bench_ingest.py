"""Ingestion benchmark (on demand; needs `make services`).

1. Batch ingestion: batches of 100 events through the API (gunicorn + Celery worker)
   until Kafka has acknowledged every record, against a raw kafka-python producer
   sending the same envelopes from one process.
2. Single-event requests: requests/s and p99 latency against a trivial DRF endpoint
   served by the same gunicorn, with the same client load.

Run: ``.venv/bin/python -m tests.benchmarks.bench_ingest``
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from tests.benchmarks.report import Figure, figures_argument, publish

REPO = Path(__file__).resolve().parents[2]
PORT = int(os.environ.get("BENCH_PORT", "8765"))
ENV = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.benchmarks.bench_settings"}


def _django():
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.benchmarks.bench_settings"
    import django

    django.setup()


def _start(args: list[str], queue: str) -> subprocess.Popen:
    env = {**ENV, "CELERY_DEFAULT_QUEUE": queue}
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_http() -> None:
    for _ in range(100):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=1)
            conn.request("GET", "/api/v1/health")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def _post_loop(path, bodies, headers, latencies, lock) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    for body in bodies:
        started = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status >= 300:
            raise RuntimeError(f"{path}: HTTP {response.status}")
        with lock:
            latencies.append(time.perf_counter() - started)
    conn.close()


def load(path: str, bodies: list[bytes], headers: dict, concurrency: int) -> tuple[float, float]:
    """Send ``bodies`` with ``concurrency`` keep-alive clients; (requests/s, p99 ms)."""
    latencies: list[float] = []
    lock = threading.Lock()
    chunks = [bodies[i::concurrency] for i in range(concurrency)]
    threads = [
        threading.Thread(target=_post_loop, args=(path, chunk, headers, latencies, lock))
        for chunk in chunks
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000
    return len(bodies) / elapsed, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    figures_argument(parser)
    args = parser.parse_args()
    _django()
    from django.conf import settings
    from django.core.management import call_command
    from kafka import KafkaProducer

    from events.services import create_project_with_keys
    from tests.events.kafka_tap import KafkaTap

    call_command("migrate", verbosity=0)
    project, keys = create_project_with_keys(name="bench")
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    web = _start(
        [
            "gunicorn",
            "tests.benchmarks.bench_wsgi:application",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            "2",
            "--threads",
            "4",
        ],
        queue,
    )
    worker = _start(
        [
            "celery",
            "-A",
            "analytics_site",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            "4",
            "--queues",
            queue,
            "--loglevel",
            "WARNING",
        ],
        queue,
    )
    try:
        _wait_http()
        headers = {
            "Authorization": f"Bearer {keys['write']}",
            "Content-Type": "application/json",
        }

        # 1. batches of 100: API -> Celery -> Kafka ack, vs a raw producer
        batches, per = int(os.environ.get("BENCH_BATCHES", "200")), 100
        bodies, envelopes = [], []
        for b in range(batches):
            batch = [
                {
                    "name": "bench",
                    "event_id": f"{queue}-{b}-{n}",
                    "distinct_id": f"u{n}",
                    "category": "server",
                    "properties": {"n": n, "amount": n * 1.5},
                }
                for n in range(per)
            ]
            bodies.append(json.dumps({"batch": batch}).encode())
            envelopes.extend(
                {
                    **event,
                    "project_id": project.id,
                    "timestamp": "2026-11-26T00:00:00.000Z",
                    "received_at": "2026-11-26T00:00:00.000Z",
                    "context": {},
                    "source": "native",
                }
                for event in batch
            )
        tap = KafkaTap()
        started = time.perf_counter()
        load("/api/v1/events", bodies, headers, concurrency=4)
        tap.collect(project_id=project.id, expected=batches * per, timeout=600)
        api_rate = batches * per / (time.perf_counter() - started)
        tap.close()

        producer = KafkaProducer(
            bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
        )
        started = time.perf_counter()
        futures = [
            producer.send(
                "analytics.events.server",
                json.dumps(e).encode(),
                key=f"{e['project_id']}:{e['distinct_id']}".encode(),
            )
            for e in envelopes
        ]
        producer.flush()
        for future in futures:
            future.get(timeout=60)
        raw_rate = len(envelopes) / (time.perf_counter() - started)
        producer.close()
        figures = [
            Figure(
                "ingestion", "batches of 100 events, API to Kafka ack", api_rate, raw_rate,
                "raw kafka-python producer, same envelopes", "events/s", "ratio ≥ 0.5",
            )
        ]  # fmt: skip

        # 2. single events vs a trivial DRF endpoint, same server and load
        singles = int(os.environ.get("BENCH_SINGLES", "3000"))
        concurrency = int(os.environ.get("BENCH_CONCURRENCY", "8"))
        single_bodies = [
            json.dumps({"name": "one", "distinct_id": f"u{i}"}).encode() for i in range(singles)
        ]
        load("/bench/noop", single_bodies[:300], headers, concurrency)  # warm-up
        noop_rps, noop_p99 = load("/bench/noop", single_bodies, headers, concurrency)
        api_rps, api_p99 = load("/api/v1/events", single_bodies, headers, concurrency)
        figures += [
            Figure(
                "ingestion", "single-event requests", api_rps, noop_rps,
                "trivial DRF endpoint, same server and load", "req/s", "ratio ≥ 0.7",
            ),
            Figure(
                "ingestion", "single-event p99 latency", api_p99, noop_p99,
                "trivial DRF endpoint", "ms", "< 50 ms",
            ),
        ]  # fmt: skip
        print(
            f"\nconcurrency {concurrency}, gunicorn 2 workers x 4 threads, "
            f"Celery worker 4 threads, {os.cpu_count()} cores"
        )
        publish(figures, args.figures_json)
    finally:
        for process in (web, worker):
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
