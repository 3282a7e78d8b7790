"""Ingestion benchmark on the shipped configuration (on demand; needs `make services`).

What runs is what ``make run`` and ``docker/`` run:

- the web: ``sh docker/entrypoint.sh web`` (the shipped gunicorn flags, ``WEB_*`` env
  overrides honoured) with ``analytics_site.settings``, rate limits on as shipped;
- the forwarding worker: ``sh docker/entrypoint.sh worker`` (beat, the drains' safety
  net, is not started: the figures show the per-request drain trigger alone);
- the baseline, a trivial DRF endpoint (``POST /bench/noop``): a second
  ``sh docker/entrypoint.sh web`` on the next port. The only difference is
  ``DJANGO_SETTINGS_MODULE=tests.benchmarks.bench_settings``, which is the shipped
  settings with ``ROOT_URLCONF`` adding that one route in front of the shipped URLs.

Only the environment is private to the run, so that concurrent users of the same
services neither see nor disturb it: a temporary SQLite database, fresh topics
(``KAFKA_TOPIC_PREFIX``) and a Redis database of its own (``BENCH_REDIS_DB``, default
11; flushed at the start) on the same Redis server. The fresh topics are created with
the shipped partitions, replication and min ISR, plus
``message.timestamp.type=LogAppendTime``: each record carries the time the broker
appended it, which is when its ack is decided (the ack follows the append once the
in-sync replicas have it; here one replica). "2xx -> Kafka ack" is that time minus the
time the client read the event's 2xx, on the same clock.

The shipped per-key limit (``INGEST_RATE_LIMIT``, 1000 requests/s) is left on. So that
it does not throttle the single-event load, the load is spread over ``BENCH_KEYS``
projects (default 4, one write key each; client connection *i* uses key *i* mod
``BENCH_KEYS``). Any non-2xx answer aborts the benchmark.

Every event carries a client-chosen ``event_id``; no figure is printed until a consumer
has seen every id sent so far in Kafka.

Figures:

- single-event requests/s and p99 against the trivial endpoint (same load, in
  ``BENCH_ROUNDS`` alternating rounds, default 5, so that a shared machine's drift
  hits both), and the CPU each request costs: ours summed over the web workers, the
  forwarding worker's processes, Redis and Kafka; the trivial endpoint's web workers
  (on 2 shared cores, the throughput ratio follows the CPU ratio);
- batches of 100 events, API -> Kafka ack (first request sent to the last record
  appended), against a raw kafka-python producer sending the same envelopes;
- 2xx -> Kafka ack p99 against a raw producer's one-record send -> ack p99: single
  events; batches at saturation (the closed loop sends faster than 2 cores forward, so
  a backlog builds); batches sent at a steady half of the API's batch rate for
  ``BENCH_PACED_SECONDS`` (20): the latency an SDK sees below saturation;
- the web workers' RSS (sum over the gunicorn workers) after warm-up and after
  ``BENCH_RSS_EVENTS`` events (default 1,000,000; the rest after the other phases are
  sent in batches of 100).

Run: ``.venv/bin/python -m tests.benchmarks.bench_ingest``
Environment: ``BENCH_PORT`` (8765; the baseline uses the next port), ``BENCH_SINGLES``
(5000), ``BENCH_ROUNDS`` (5), ``BENCH_PACED_SECONDS`` (20), ``BENCH_CONCURRENCY`` (8),
``BENCH_BATCHES`` (200), ``BENCH_KEYS`` (4), ``BENCH_RSS_EVENTS`` (1000000),
``BENCH_REDIS_DB`` (11).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.benchmarks.report import Figure, figures_argument, publish

REPO = Path(__file__).resolve().parents[2]
LOGS = REPO / "var" / "bench"
PORT = int(os.environ.get("BENCH_PORT", "8765"))
BASELINE_PORT = PORT + 1
RUN = uuid.uuid4().hex[:8]
LOG_APPEND_TIME = 1  # ConsumerRecord.timestamp_type


def _private_redis_url() -> str:
    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0]
    return f"{base}/{int(os.environ.get('BENCH_REDIS_DB', '11'))}"


# Private to this run (main adds a temporary DATABASE_URL); nothing here changes how
# the code behaves.
ENV = {
    "DJANGO_SETTINGS_MODULE": "analytics_site.settings",
    "KAFKA_TOPIC_PREFIX": f"bench-{RUN}.events",
    "REDIS_URL": _private_redis_url(),
    "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
}


# --- processes -------------------------------------------------------------------------


def _role(role: str, log: Path, **env: str) -> subprocess.Popen:
    """``sh docker/entrypoint.sh <role>`` in its own process group, output to ``log``."""
    return subprocess.Popen(
        ["sh", "docker/entrypoint.sh", role],
        cwd=REPO,
        env={**os.environ, **ENV, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by ``pids`` (those still running)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _service_pid(name: str) -> list[int]:
    """The pid of a ``make services`` service, from its pid file (none if absent)."""
    path = REPO / "var" / "run" / f"{name}.pid"
    return [int(path.read_text())] if path.exists() else []


class CpuMeter:
    """CPU seconds that each group of processes uses while a block of work runs."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups
        self.used = dict.fromkeys(groups, 0.0)

    def measure(self, port: int, requests: Sequence[Request], concurrency: int) -> LoadResult:
        """:func:`load`, adding each group's CPU seconds meanwhile to ``used``."""
        pids = {name: find() for name, find in self.groups.items()}
        before = {name: _cpu_seconds(group) for name, group in pids.items()}
        result = load(port, requests, concurrency)
        for name, group in pids.items():
            self.used[name] += _cpu_seconds(group) - before[name]
        return result


def workers_rss_mib(master: subprocess.Popen) -> tuple[int, float]:
    """(number of gunicorn workers under ``master``, the sum of their RSS in MiB)."""
    pids = _children(master.pid)
    total_kib = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total_kib += int(line.split()[1])
    return len(pids), total_kib / 1024


# --- HTTP client: keep-alive connections, pre-built requests ---------------------------


def http_request(path: str, body: bytes, key: str | None) -> bytes:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Connection:
    """One keep-alive HTTP/1.1 connection; ``exchange`` sends a request, returns the status."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        return sock

    def exchange(self, request: bytes) -> int:
        for attempt in range(2):
            if self.sock is None:
                self.sock = self._connect()
            self.sock.sendall(request)
            try:
                return self._response()
            except ConnectionError:
                # closed by the server before answering (idle keep-alive): resend once;
                # a duplicate would carry the same event_id
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _recv(self) -> None:
        if self.sock is None:
            raise ConnectionError("closed")
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buffer += chunk

    def _response(self) -> int:
        while b"\r\n\r\n" not in self.buffer:
            self._recv()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        self.buffer = rest
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = (line.partition(":") for line in lines[1:])
        headers = {name.strip().lower(): value.strip() for name, _, value in fields}
        if "content-length" not in headers:
            raise RuntimeError(f"response without Content-Length: {lines}")
        length = int(headers["content-length"])
        while len(self.buffer) < length:
            self._recv()
        self.buffer = self.buffer[length:]
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


@dataclass
class Request:
    wire: bytes
    event_ids: Sequence[str] = ()


@dataclass
class LoadResult:
    requests: int
    seconds: float
    started_wall: float
    latencies: list[float] = field(default_factory=list)
    answered_at: dict[str, float] = field(default_factory=dict)  # event_id -> wall time
    failures: dict[int, int] = field(default_factory=dict)  # status -> count

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 99) * 1000


def combined(results: Sequence[LoadResult]) -> LoadResult:
    """Several rounds as one: requests and seconds summed, latencies pooled."""
    total = LoadResult(0, 0.0, results[0].started_wall)
    for result in results:
        total.requests += result.requests
        total.seconds += result.seconds
        total.latencies += result.latencies
        total.answered_at |= result.answered_at
    return total


def percentile(values: Sequence[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def load(
    port: int, requests: Sequence[Request], concurrency: int, *, rate: float | None = None
) -> LoadResult:
    """Send ``requests`` over ``concurrency`` keep-alive connections (connection *i*
    sends ``requests[i::concurrency]``); raise if any answer is not 2xx. Closed loop,
    or with ``rate``, request *j* is sent at ``j / rate`` seconds (or as soon as its
    connection is free after that: open loop, so a slow answer does not slow the load)."""
    result = LoadResult(len(requests), 0.0, time.time())
    lock = threading.Lock()
    errors: list[BaseException] = []
    begin = time.perf_counter() + 0.1

    def run(first: int, chunk: Sequence[Request]) -> None:
        conn = Connection(port)
        latencies: list[float] = []
        answered: dict[str, float] = {}
        failures: dict[int, int] = {}
        try:
            for n, request in enumerate(chunk):
                if rate:
                    due = begin + (first + n * concurrency) / rate
                    time.sleep(max(0.0, due - time.perf_counter()))
                started = time.perf_counter()
                status = conn.exchange(request.wire)
                latencies.append(time.perf_counter() - started)
                if 200 <= status < 300:
                    now = time.time()
                    for event_id in request.event_ids:
                        answered[event_id] = now
                else:
                    failures[status] = failures.get(status, 0) + 1
        except BaseException as error:  # reported by the caller
            errors.append(error)
        finally:
            conn.close()
            with lock:
                result.latencies += latencies
                result.answered_at |= answered
                for status, count in failures.items():
                    result.failures[status] = result.failures.get(status, 0) + count

    threads = [
        threading.Thread(target=run, args=(i, requests[i::concurrency])) for i in range(concurrency)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"port {port}: {errors[0]!r}") from errors[0]
    if result.failures:
        hint = " (429: the per-key limit; raise BENCH_KEYS)" if 429 in result.failures else ""
        raise RuntimeError(f"port {port}: non-2xx answers {result.failures}{hint}")
    return result


def wait_for_http(port: int, process: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"web on port {port} exited; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                sock.sendall(b"GET /bench-ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                if sock.recv(12).startswith(b"HTTP/1.1 "):
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"web on port {port} did not answer in {timeout}s; see {log}")


# --- Kafka: private topics, and the ids that reached them ------------------------------


def create_topics() -> None:
    """The run's topics, as ``create_topics`` makes them, with LogAppendTime stamps."""
    from django.conf import settings
    from kafka.admin import KafkaAdminClient

    from events.kafka_topics import TopicPlan
    from events.topics import all_topics

    plan = TopicPlan.from_settings()
    admin = KafkaAdminClient(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    try:
        topics = []
        for name in all_topics():
            topic = plan.new_topic(name)
            topic.topic_configs = {
                **(topic.topic_configs or {}),
                "message.timestamp.type": "LogAppendTime",
            }
            topics.append(topic)
        admin.create_topics(topics)
    finally:
        admin.close()


def delete_topics() -> None:
    from django.conf import settings
    from kafka.admin import KafkaAdminClient

    from events.topics import all_topics

    admin = KafkaAdminClient(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    try:
        admin.delete_topics(all_topics())
    finally:
        admin.close()


class Arrivals:
    """Reads the run's event topics from the start; remembers, per event_id of our
    projects, the broker's append time (seconds) of its first record."""

    def __init__(self, project_ids: set[str]) -> None:
        from django.conf import settings
        from kafka import KafkaConsumer, TopicPartition

        from events.topics import event_topics

        self.project_ids = project_ids
        self.appended: dict[str, float] = {}
        self.records = 0
        self.consumer = KafkaConsumer(
            bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
            enable_auto_commit=False,
            fetch_max_wait_ms=50,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        partitions = []
        for topic in event_topics():
            for _ in range(100):
                found = self.consumer.partitions_for_topic(topic)
                if found:
                    break
                time.sleep(0.1)
            else:
                raise RuntimeError(f"topic {topic} has no partitions")
            partitions += [TopicPartition(topic, p) for p in sorted(found)]
        self.consumer.assign(partitions)
        self.consumer.seek_to_beginning()

    def wait_for(self, event_ids: set[str], timeout: float) -> None:
        """Return once every id in ``event_ids`` has been seen; raise after ``timeout``."""
        deadline = time.monotonic() + timeout
        missing = event_ids - self.appended.keys()
        while missing:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{len(missing)} of {len(event_ids)} accepted events not in Kafka after "
                    f"{timeout:.0f}s (e.g. {sorted(missing)[:3]})"
                )
            for records in self.consumer.poll(timeout_ms=200, max_records=50_000).values():
                for record in records:
                    self.records += 1
                    if record.timestamp_type != LOG_APPEND_TIME:
                        raise RuntimeError(f"{record.topic}: not LogAppendTime stamps")
                    value = json.loads(record.value)
                    if value.get("project_id") in self.project_ids:
                        event_id = value["event_id"]
                        if event_id not in self.appended:
                            self.appended[event_id] = record.timestamp / 1000
            missing = {i for i in missing if i not in self.appended}

    def ack_latencies(self, answered_at: dict[str, float]) -> list[float]:
        """Per event: broker append time minus the time its 2xx was read (seconds)."""
        return [self.appended[i] - at for i, at in answered_at.items()]

    def close(self) -> None:
        self.consumer.close()


def _raw_producer(*, linger_ms: int):
    """A plain kafka-python producer with the shipped guarantees (acks=all, idempotent)."""
    from django.conf import settings
    from kafka import KafkaProducer

    return KafkaProducer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        acks="all",
        enable_idempotence=True,
        linger_ms=linger_ms,
    )


def raw_producer_rate(envelopes: list[dict]) -> float:
    """Events/s of one kafka-python producer (acks=all, idempotent) sending the
    envelopes as JSON to the run's server topic, until every send is acknowledged."""
    from events.forwarding import record_key
    from events.topics import topic_for

    producer = _raw_producer(linger_ms=5)
    try:
        topic = topic_for("server")
        started = time.perf_counter()
        futures = [
            producer.send(
                topic,
                json.dumps(e, separators=(",", ":")).encode(),
                key=record_key(e),
            )
            for e in envelopes
        ]
        producer.flush()
        for future in futures:
            future.get(timeout=60)  # raises unless acknowledged
        return len(envelopes) / (time.perf_counter() - started)
    finally:
        producer.close()


def raw_send_ack_p99(count: int = 300) -> float:
    """p99 seconds of one record's send -> ack, sent one at a time (linger 0)."""
    from events.topics import topic_for

    producer = _raw_producer(linger_ms=0)
    try:
        topic = topic_for("server")
        producer.send(topic, b"{}").get(timeout=30)  # metadata, connection
        latencies = []
        for n in range(count):
            started = time.perf_counter()
            producer.send(topic, json.dumps({"n": n}).encode()).get(timeout=30)
            latencies.append(time.perf_counter() - started)
        return percentile(latencies, 99)
    finally:
        producer.close()


# --- workloads -------------------------------------------------------------------------


def single_requests(
    count: int, keys: Sequence[str], concurrency: int, tag: str, path: str = "/api/v1/events"
) -> list[Request]:
    """Single-event requests; request *j* (sent by connection *j* mod ``concurrency``)
    uses key (*j* mod ``concurrency``) mod len(keys)."""
    requests = []
    for j in range(count):
        event_id = f"{RUN}-{tag}-{j}"
        body = json.dumps(
            {"name": "one", "event_id": event_id, "distinct_id": f"u{j % 1000}"}
        ).encode()
        key = keys[(j % concurrency) % len(keys)]
        requests.append(Request(http_request(path, body, key), (event_id,)))
    return requests


def noop_requests(count: int) -> list[Request]:
    body = json.dumps({"name": "one", "event_id": "noop", "distinct_id": "u1"}).encode()
    return [Request(http_request("/bench/noop", body, None)) for _ in range(count)]


def batch_events(tag: str, batch: int, per: int = 100) -> list[dict]:
    return [
        {
            "name": "bench",
            "event_id": f"{RUN}-{tag}-{batch}-{n}",
            "distinct_id": f"u{n}",
            "category": "server",
            "properties": {"n": n, "amount": n * 1.5},
        }
        for n in range(per)
    ]


def batch_requests(
    tag: str, first: int, count: int, keys: Sequence[str], concurrency: int
) -> list[Request]:
    requests = []
    for j in range(first, first + count):
        events = batch_events(tag, j)
        body = json.dumps({"batch": events}).encode()
        key = keys[(j % concurrency) % len(keys)]
        requests.append(
            Request(http_request("/api/v1/events", body, key), [e["event_id"] for e in events])
        )
    return requests


# --- the run ---------------------------------------------------------------------------


def _code_state() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()

    changed = git("diff", "--stat", "--", "events/").splitlines()
    return f"code {git('rev-parse', '--short', 'HEAD')}" + (
        f", events/ with uncommitted changes ({changed[-1].strip()})" if changed else ""
    )


def _step(text: str) -> None:
    print(f"--> {text}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    figures_argument(parser)
    args = parser.parse_args()
    singles = int(os.environ.get("BENCH_SINGLES", "5000"))
    rounds = max(1, int(os.environ.get("BENCH_ROUNDS", "5")))
    paced_seconds = float(os.environ.get("BENCH_PACED_SECONDS", "20"))
    concurrency = int(os.environ.get("BENCH_CONCURRENCY", "8"))
    batches = int(os.environ.get("BENCH_BATCHES", "200"))
    key_count = int(os.environ.get("BENCH_KEYS", "4"))
    rss_events = int(os.environ.get("BENCH_RSS_EVENTS", "1000000"))

    database_dir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    ENV["DATABASE_URL"] = f"sqlite:///{database_dir}/bench.sqlite3"
    os.environ |= ENV
    import django

    django.setup()
    import redis
    from django.conf import settings
    from django.core.management import call_command

    from events.services import create_project_with_keys

    call_command("migrate", verbosity=0)
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    create_topics()
    projects = [create_project_with_keys(name=f"bench {RUN} {n}") for n in range(key_count)]
    keys = [plain["write"] for _, plain in projects]
    arrivals = Arrivals({project.id for project, _ in projects})
    sent: set[str] = set()

    def check(timeout: float = 600) -> None:
        arrivals.wait_for(sent, timeout)

    LOGS.mkdir(parents=True, exist_ok=True)
    logs = {name: LOGS / f"ingest-{name}.log" for name in ("web", "baseline", "worker")}
    web = _role("web", logs["web"], WEB_PORT=str(PORT))
    baseline = _role(
        "web",
        logs["baseline"],
        WEB_PORT=str(BASELINE_PORT),
        DJANGO_SETTINGS_MODULE="tests.benchmarks.bench_settings",
    )
    worker = _role("worker", logs["worker"])
    try:
        wait_for_http(PORT, web, logs["web"])
        wait_for_http(BASELINE_PORT, baseline, logs["baseline"])

        # warm-up: both servers, both payload shapes; the worker must be forwarding
        _step("warm-up")
        load(BASELINE_PORT, noop_requests(400), concurrency)
        for warm in (
            batch_requests("warm-batch", 0, 20, keys, concurrency),
            single_requests(400, keys, concurrency, "warm"),
        ):
            sent.update(i for r in warm for i in r.event_ids)
            load(PORT, warm, concurrency)
        check(timeout=180)
        worker_count, rss_before = workers_rss_mib(web)

        # CPU per request: where the 2 cores go (the web's workers, the forwarding
        # worker's processes, Redis, Kafka)
        our_cpu = CpuMeter(
            {
                "web": lambda: _children(web.pid),
                "forwarding": lambda: [worker.pid, *_children(worker.pid)],
                "Redis": lambda: _service_pid("redis"),
                "Kafka": lambda: _service_pid("kafka"),
            }
        )
        noop_cpu = CpuMeter({"web": lambda: _children(baseline.pid)})
        # 1. single events against the trivial endpoint, same gunicorn flags and load,
        # in alternating rounds so that drift in a shared machine's speed hits both
        _step(f"{singles:,} single-event requests and as many to the trivial DRF endpoint")
        single_load = single_requests(singles, keys, concurrency, "single")
        sent.update(i for r in single_load for i in r.event_ids)
        per_round = -(-singles // rounds)
        noop_rounds, our_rounds = [], []
        for first in range(0, singles, per_round):
            chunk = single_load[first : first + per_round]
            noop_rounds.append(
                noop_cpu.measure(BASELINE_PORT, noop_requests(len(chunk)), concurrency)
            )
            our_rounds.append(our_cpu.measure(PORT, chunk, concurrency))
        noop, ours = combined(noop_rounds), combined(our_rounds)
        our_cpu_ms = {name: 1000 * used / singles for name, used in our_cpu.used.items()}
        noop_cpu_ms = 1000 * noop_cpu.used["web"] / singles
        check()
        single_ack_p99 = percentile(arrivals.ack_latencies(ours.answered_at), 99)

        # 2. batches of 100: API -> Kafka ack, against a raw producer
        _step(f"{batches:,} batches of 100 events")
        batch_load = batch_requests("batch", 0, batches, keys, concurrency)
        batch_ids = {i for r in batch_load for i in r.event_ids}
        sent.update(batch_ids)
        api = load(PORT, batch_load, concurrency)
        check()
        last_append = max(arrivals.appended[i] for i in batch_ids)
        api_rate = len(batch_ids) / (last_append - api.started_wall)
        batch_ack_p99 = percentile(arrivals.ack_latencies(api.answered_at), 99)
        project_id = projects[0][0].id
        envelopes = [
            {
                **event,
                "event_id": f"raw-{event['event_id']}",
                "project_id": project_id,
                "timestamp": "2026-11-26T00:00:00.000Z",
                "received_at": "2026-11-26T00:00:00.000Z",
                "context": {},
                "source": "native",
            }
            for b in range(batches)
            for event in batch_events("raw", b)
        ]
        # 2b. the same batches at a steady half of that rate: 2xx -> ack below saturation
        paced_rate = api_rate / 2
        paced_requests = max(concurrency, int(paced_rate * paced_seconds / 100))
        _step(f"{paced_requests:,} batches of 100 at {paced_rate:,.0f} events/s")
        paced_load = batch_requests("paced", 0, paced_requests, keys, concurrency)
        sent.update(i for r in paced_load for i in r.event_ids)
        paced = load(PORT, paced_load, concurrency, rate=paced_rate / 100)
        check()
        paced_ack_p99 = percentile(arrivals.ack_latencies(paced.answered_at), 99)
        _step(f"raw kafka-python producer, {len(envelopes):,} envelopes")
        raw_rate = raw_producer_rate(envelopes)
        raw_ack_p99 = raw_send_ack_p99()

        # 3. web workers' memory after rss_events events in all (the rest in batches)
        remaining = max(0, rss_events - len(sent))
        rss_batches = (remaining + 99) // 100
        _step(f"{rss_batches * 100:,} more events in batches of 100 (RSS)")
        for first in range(0, rss_batches, 200):
            chunk = batch_requests("rss", first, min(200, rss_batches - first), keys, concurrency)
            sent.update(i for r in chunk for i in r.event_ids)
            load(PORT, chunk, concurrency)
        check(timeout=1800)
        _, rss_after = workers_rss_mib(web)
        total = len(sent)
    finally:
        for process in (web, baseline, worker):
            _stop(process)
        arrivals.close()
        delete_topics()
        redis.Redis.from_url(settings.REDIS_URL).flushdb()
        shutil.rmtree(database_dir, ignore_errors=True)

    figures = [
        Figure(
            "ingestion",
            "single-event requests",
            ours.rate,
            noop.rate,
            "trivial DRF endpoint, same gunicorn flags and load",
            "req/s",
            "ratio ≥ 0.7",
        ),
        Figure(
            "ingestion",
            "single-event p99 latency",
            ours.p99_ms,
            noop.p99_ms,
            "trivial DRF endpoint, same load",
            "ms",
            "≤ 20 ms",
        ),
        Figure(
            "ingestion",
            "CPU per single-event request ("
            + ", ".join(f"{name} {ms:.2f}" for name, ms in our_cpu_ms.items())
            + " ms)",
            sum(our_cpu_ms.values()),
            noop_cpu_ms,
            "trivial DRF endpoint's web workers",
            "ms",
            "",
        ),
        Figure(
            "ingestion",
            "batches of 100 events, API to Kafka ack",
            api_rate,
            raw_rate,
            "raw kafka-python producer, same envelopes, acks=all",
            "events/s",
            "ratio ≥ 0.8",
        ),
        Figure(
            "ingestion",
            "2xx to Kafka ack p99, single events",
            single_ack_p99 * 1000,
            raw_ack_p99 * 1000,
            "raw producer, one record send to ack",
            "ms",
            "≤ 1 s",
        ),
        Figure(
            "ingestion",
            "2xx to Kafka ack p99, batches of 100 (at saturation)",
            batch_ack_p99 * 1000,
            raw_ack_p99 * 1000,
            "raw producer, one record send to ack",
            "ms",
            "",
        ),
        Figure(
            "ingestion",
            f"2xx to Kafka ack p99, batches of 100 at {paced_rate:,.0f} events/s",
            paced_ack_p99 * 1000,
            raw_ack_p99 * 1000,
            "raw producer, one record send to ack",
            "ms",
            "≤ 1 s",
        ),
        Figure(
            "ingestion",
            f"web workers' RSS after {total:,} events ({worker_count} workers)",
            rss_after,
            rss_before,
            "same workers after warm-up",
            "MiB",
            "flat",
        ),
    ]
    flags = (
        f"gunicorn gthread, {os.environ.get('WEB_WORKERS', '2')} workers x "
        f"{os.environ.get('WEB_THREADS', '4')} threads (docker/entrypoint.sh web)"
    )
    print(
        f"\n{flags}; docker/entrypoint.sh worker; {concurrency} keep-alive client "
        f"connections over {key_count} keys; {os.cpu_count()} cores; {_code_state()}; "
        f"all {total:,} accepted events seen in Kafka ({arrivals.records:,} records read)"
    )
    publish(figures, args.figures_json)


if __name__ == "__main__":
    main()
