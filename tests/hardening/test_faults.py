"""Faults under a steady load: Kafka, Redis, Cassandra, a Celery worker, the Spark job and a
web instance are each taken down and brought back in turn. Every accepted event is
counted exactly once in the final rollups; no 2xx is ever given for an event later lost.

Exactly once is checked on identities, not totals: the client assigns every event id
and keeps the set answered 202; the event ids stored in Cassandra (``raw_events`` and
``event_ids``) must be that set, each once, and the rollup count its size. So one event
lost and another counted twice cannot cancel out. Each fault is also shown to have hit
its target while it was working (``Fault.evidence``): Kafka and Cassandra were down
while requests were accepted, Redis down while requests were refused, the Celery
worker was killed holding an unfinished batch, the aggregation worker while a JobRun
over new records was running, and the web instance right after it served requests.

The deployment is real and local: two gunicorn instances behind nginx (TLS), a
forwarding worker, the aggregation worker (warm Spark) driven by Celery beat.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest

from tests.conftest import WorkerProcess, run_stack
from tests.scaleout.stack import WebTier, manage, post_events, production_env

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "cassandra"]),
]

REPO = Path(__file__).resolve().parents[2]
EVENT_NAME = "fault"
EVENTS_PER_REQUEST = 10


class SteadyClient(threading.Thread):
    """Posts a batch every ``pause`` seconds, like an SDK: an answer other than 202
    (503, 5xx, a dropped connection) means "not accepted", so the same batch (same
    event ids) is sent again until it is accepted."""

    def __init__(self, port: int, key: str, pause: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.port, self.key, self.pause = port, key, pause
        self.sent: set[str] = set()  # every event id ever posted
        self.accepted: set[str] = set()  # those of a request answered 202
        self.statuses: Counter = Counter()
        self.answers: list[tuple[float, float, int | str]] = []  # (sent, answered, status)
        self.requests = 0
        self.stopping = threading.Event()

    def answered_between(self, start: float, end: float) -> Counter:
        """Statuses of the requests sent and answered within [start, end] (monotonic)."""
        return Counter(
            s for sent, answered, s in list(self.answers) if start <= sent and answered <= end
        )

    def run(self) -> None:
        number = 0
        while not self.stopping.is_set():
            ids = [f"f-{number}-{i}-{uuid.uuid4().hex[:6]}" for i in range(EVENTS_PER_REQUEST)]
            body = json.dumps({"batch": [{"name": EVENT_NAME, "event_id": e} for e in ids]})
            self.sent.update(ids)
            while True:
                sent_at = time.monotonic()
                status = post_events(self.port, self.key, body, timeout=30)
                self.requests += 1
                self.statuses[status] += 1
                self.answers.append((sent_at, time.monotonic(), status))
                if status == 202:
                    self.accepted.update(ids)
                    break
                time.sleep(0.5)
            number += 1
            time.sleep(self.pause)


def _days() -> list[date]:
    """The UTC days this test's events can be stamped with (it may cross midnight)."""
    today = datetime.now(UTC).date()
    return [today - timedelta(days=1), today]


def _cassandra():
    from django.db import connections

    return (
        connections["cassandra"].connection.session,
        connections["cassandra"].settings_dict["NAME"],
    )


def _hourly_counts(project_id: str) -> dict[datetime, int] | None:
    """Events counted per hourly rollup bucket (category "all") of ``project_id``; None
    while the driver is still reconnecting after Cassandra's restart."""
    from cassandra import DriverException

    session, keyspace = _cassandra()
    counts: dict[datetime, int] = {}
    for period in sorted({f"{day:%Y-%m}" for day in _days()}):
        try:
            rows = session.execute(
                f"SELECT bucket, category, count FROM {keyspace}.rollups WHERE project_id = %s "
                "AND name = %s AND metric = 'events' AND granularity = 'hour' AND period = %s",
                (project_id, EVENT_NAME, period),
            )
        except DriverException:
            return None
        counts |= {row["bucket"]: row["count"] for row in rows if row["category"] == "all"}
    return counts


def _stored_ids(project_id: str) -> tuple[list[tuple[str, datetime]], list[str]] | None:
    """(event id, event time) of each ``raw_events`` row of ``project_id`` and the ids in
    ``event_ids``, one entry per stored row (so a duplicate shows twice); None while the
    driver reconnects."""
    from cassandra import DriverException

    session, keyspace = _cassandra()
    try:
        raw = [
            (row["event_id"], row["event_time"])
            for day in _days()
            for row in session.execute(
                f"SELECT event_id, event_time FROM {keyspace}.raw_events "
                "WHERE project_id = %s AND name = %s AND day = %s",
                (project_id, EVENT_NAME, day),
            )
        ]
        ids = [
            row["event_id"]
            for row in session.execute(
                f"SELECT event_id FROM {keyspace}.event_ids WHERE project_id = %s ALLOW FILTERING",
                (project_id,),
            )
        ]
    except DriverException:
        return None
    return raw, ids


def _job_runs(db: Path) -> list[tuple[int, str, str, str, str, str]]:
    """(id, status, trigger, batch_id, start_offsets, end_offsets) of every JobRun."""
    with sqlite3.connect(db, timeout=30) as connection:
        return connection.execute(
            "SELECT id, status, trigger, batch_id, start_offsets, end_offsets "
            "FROM insights_jobrun ORDER BY id"
        ).fetchall()


def _records_in(run: tuple) -> int:
    """How many Kafka records a JobRun row's offset range covers."""
    start, end = json.loads(run[4]), json.loads(run[5])
    return sum(
        offset - start.get(topic, {}).get(partition, 0)
        for topic, partitions in end.items()
        for partition, offset in partitions.items()
    )


def _wait_for(what: str, condition, timeout: float, step: float = 0.05):
    """Poll ``condition()`` until it returns something truthy; return it."""
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what}: not seen within {timeout:.0f}s"
        time.sleep(step)
    return found


@dataclass
class Fault:
    """One fault: when its target was down, and what shows it hit the target at work."""

    name: str
    down_at: float = 0.0  # stop() called
    stopped_at: float = 0.0  # stop() returned: the target is down
    starting_at: float = 0.0  # start() called
    up_at: float = 0.0  # start() returned
    evidence: dict = field(default_factory=dict)


def _down_and_up(
    fault: Fault, stop, start, log: list[str], seconds: float = 4, while_down=None
) -> Fault:
    """Stop the target, keep it down ``seconds`` (and until ``while_down()`` is truthy,
    its value kept as ``fault.evidence["while_down"]``), start it, then let it settle."""
    fault.down_at = time.monotonic()
    stop()
    fault.stopped_at = time.monotonic()
    time.sleep(seconds)
    if while_down is not None:
        fault.evidence["while_down"] = _wait_for(f"{fault.name} (down)", while_down, 90, 0.5)
    fault.starting_at = time.monotonic()
    start()
    fault.up_at = time.monotonic()
    log.append(f"{fault.name}: down and back in {fault.up_at - fault.down_at:.0f}s")
    time.sleep(seconds)
    return fault


def _stack(action: str, service: str) -> None:
    result = run_stack(action, service)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def deployment(tmp_path, topic_prefix, unique_name):
    env = production_env(
        tmp_path / "db.sqlite3",
        queue=unique_name,
        KAFKA_TOPIC_PREFIX=topic_prefix,
        AGGREGATION_QUEUE=f"{unique_name}-aggregation",
        AGGREGATION_INTERVAL_SECONDS="3",
    )
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    return env


def test_every_accepted_event_is_counted_once_through_every_fault(tmp_path, deployment) -> None:
    import redis
    from django.conf import settings

    from events.stream import GROUP

    env = deployment
    db = tmp_path / "db.sqlite3"
    queue = env["CELERY_DEFAULT_QUEUE"]
    streams = [f"{env['EVENTS_STREAM_PREFIX']}:{n}" for n in range(settings.EVENTS_STREAM_SHARDS)]
    broker = redis.Redis.from_url(settings.EVENTS_STREAM_REDIS_URL)
    keys = json.loads(manage(env, "createproject", "Faults", "--json"))
    forwarder = WorkerProcess(queue, env=env)
    aggregator = WorkerProcess(env["AGGREGATION_QUEUE"], env=env, pool="prefork")
    beat = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "analytics_site",
            "beat",
            "--loglevel",
            "WARNING",
            "--schedule",
            str(tmp_path / "beat-schedule"),
        ],
        cwd=REPO,
        env=env,
        start_new_session=True,
    )
    forwarder.start()
    aggregator.start()
    log: list[str] = []
    faults: dict[str, Fault] = {}

    def held_here() -> dict[str, list[str]]:
        """Event ids a drain of this deployment has read and not yet acknowledged, by
        stream (read from the stream: the pending entries are still in it)."""
        held: dict[str, list[str]] = {}
        for stream in streams:
            with suppress(redis.ResponseError):  # no group yet
                pending = broker.xpending_range(stream, GROUP, min="-", max="+", count=10_000)
                ids = [p["message_id"] for p in pending]
                values = [broker.xrange(stream, min=i, max=i) for i in ids]
                fields = [cast("dict[bytes, bytes]", v[0][1]) for v in values if v]
                held[stream] = [json.loads(f[b"v"])["event_id"] for f in fields]
        return {stream: ids for stream, ids in held.items() if ids}

    def kill_forwarder_holding_work() -> None:
        """SIGKILL the forwarding worker at a moment it holds entries not yet acknowledged."""
        for _attempt in range(5):
            _wait_for("entries held by a drain", held_here, 30, 0.002)
            forwarder.kill()
            held = held_here()
            if held:  # read by the killed worker, not acknowledged
                faults["celery worker"].evidence["held"] = held
                return
            forwarder.start()  # it finished just before the kill: try again
            time.sleep(2)
        raise AssertionError("never caught the forwarding worker holding entries")

    def kill_aggregator_mid_run() -> None:
        """SIGKILL the aggregation worker (and its Spark JVM) while a run over new records
        is in progress."""

        def running() -> tuple | None:
            return next(
                (r for r in _job_runs(db) if r[1] == "running" and _records_in(r) > 0), None
            )

        for _attempt in range(5):
            run = _wait_for("a running JobRun", running, 120, 0.05)
            aggregator.kill()
            if {r[0]: r[1] for r in _job_runs(db)}[run[0]] == "running":  # killed in it
                faults["spark job"].evidence["run"] = run
                return
            aggregator.start()  # it finished just before the kill: try again
            time.sleep(2)
        raise AssertionError("never caught the aggregation worker mid-run")

    def runs_after(run_id: int, statuses: tuple[str, ...]):
        return lambda: [r for r in _job_runs(db) if r[0] > run_id and r[1] in statuses]

    try:
        with WebTier(tmp_path, env) as tier:
            client = SteadyClient(tier.port, keys["write_key"])
            client.start()
            time.sleep(5)
            # Down until the client saw the outage: requests accepted without Kafka,
            # refused without Redis.
            for service, answered in (
                ("kafka", lambda c: c[202] >= 3),
                ("redis", lambda c: sum(c.values()) - c[202] >= 2),
            ):
                faults[service] = fault = Fault(service)
                _down_and_up(
                    fault,
                    lambda s=service: _stack("stop", s),
                    lambda s=service: _stack("start", s),
                    log,
                    while_down=lambda f=fault, ok=answered: ok(
                        client.answered_between(f.stopped_at, time.monotonic())
                    ),
                )
            last_run = max((r[0] for r in _job_runs(db)), default=0)
            faults["cassandra"] = _down_and_up(
                Fault("cassandra"),
                lambda: _stack("stop", "cassandra"),
                lambda: _stack("start", "cassandra"),
                log,
                # an aggregation run started while Cassandra was down, and failed
                while_down=runs_after(last_run, ("failed",)),
            )
            faults["celery worker"] = Fault("celery worker")
            _down_and_up(faults["celery worker"], kill_forwarder_holding_work, forwarder.start, log)
            faults["spark job"] = Fault("spark job")
            _down_and_up(faults["spark job"], kill_aggregator_mid_run, aggregator.start, log)

            access_log = tmp_path / "access.log"
            first = f"127.0.0.1:{tier.ports[0]}"

            def kill_web() -> None:
                before = access_log.read_text().count(first)
                time.sleep(1)
                faults["web instance"].evidence["served"] = (
                    access_log.read_text().count(first) - before
                )
                tier.kill(0)

            faults["web instance"] = Fault("web instance")
            _down_and_up(faults["web instance"], kill_web, lambda: tier.restart(0), log)
            client.stopping.set()
            client.join(timeout=120)
            assert not client.is_alive()

        accepted = set(client.accepted)
        deadline = time.monotonic() + 300
        while True:
            hourly, stored = _hourly_counts(keys["project_id"]), _stored_ids(keys["project_id"])
            counted = -1 if hourly is None else sum(hourly.values())
            if stored is not None and hourly is not None:
                raw_rows, ids = stored
                raw = [event_id for event_id, _ in raw_rows]
                assert counted <= len(accepted), f"counted {counted} > {len(accepted)}"
                assert not set(raw) - accepted, f"stored, never accepted: {set(raw) - accepted}"
                assert len(raw) == len(set(raw)), "an event stored twice"
                if set(raw) == set(ids) == accepted and counted == len(accepted):
                    break
            assert time.monotonic() < deadline, (
                f"after 300s: counted {counted} of {len(accepted)}; "
                f"missing {len(accepted - set(raw)) if stored else '?'} ids"
            )
            time.sleep(2)
        runs = _job_runs(db)
    finally:
        beat.terminate()
        beat.wait(timeout=30)
        forwarder.stop()
        aggregator.stop()
    statuses = {str(k): v for k, v in client.statuses.items()}

    def during(name: str) -> Counter:
        fault = faults[name]
        return client.answered_between(fault.stopped_at, fault.starting_at)

    print("\n" + "\n".join(log))
    print(
        f"tally: requests sent {client.requests}, answers {statuses}; events sent "
        f"{len(client.sent)}, accepted {len(accepted)}, stored {len(raw)}, counted {counted}; "
        + "; ".join(f"{n}: {dict(during(n))}" for n in faults)
    )
    # Exactly once, by identity: every accepted id stored once, nothing else, and counted.
    assert set(raw) == set(ids) == accepted
    assert len(raw) == len(accepted) == counted
    # ... and each hourly rollup counts exactly the stored events of its hour.
    per_hour = Counter(when.replace(minute=0, second=0, microsecond=0) for _, when in raw_rows)
    assert hourly == dict(per_hour)
    assert client.sent == accepted  # the client resent every unaccepted batch
    assert len(accepted) >= 50 * EVENTS_PER_REQUEST
    assert not any(str(status).startswith("5") and status != 503 for status in client.statuses)
    # Each fault hit its target while it was working.
    assert during("kafka")[202] >= 3, "too few requests accepted while Kafka was down"
    assert during("redis")[202] == 0, during("redis")  # nothing accepted without Redis
    assert sum(during("redis").values()) >= 2, "no request sent while Redis was down"
    assert during("cassandra")[202] > 0, "no request accepted while Cassandra was down"
    assert faults["cassandra"].evidence["while_down"], "no run failed while Cassandra was down"
    held = faults["celery worker"].evidence["held"]
    assert held
    assert all(set(ids) <= accepted for ids in held.values())
    killed = faults["spark job"].evidence["run"]
    after = {r[0]: r for r in runs}
    assert after[killed[0]][1] == "abandoned", after[killed[0]]  # it was running when killed
    assert any(
        r[0] > killed[0] and r[3] == killed[3] and r[2] == "retry" and r[1] == "succeeded"
        for r in runs
    ), "the killed batch was never redone"
    assert faults["web instance"].evidence["served"] > 0, "instance 0 idle before its kill"
    assert during("web instance")[202] > 0, "nothing accepted with one instance down"
