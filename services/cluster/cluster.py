"""Start, stop and break the loopback cluster: every process by name, in dependency
order, each awaited through a real round trip."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from services.localstack.config import load_config
from services.localstack.errors import StackError
from services.localstack.redis_service import RedisService
from services.localstack.service import LocalService

from . import topology
from .apps import AppProcess, Balancer, run_migrate
from .engines import CassandraNode, KafkaNode, SparkMaster, SparkWorker

Progress = Callable[[str], None]

JOIN_ATTEMPTS = 3
"""How often a new Cassandra node is started before its failure to join stops the
cluster's start: a bootstrapping node can give up on the seed ("Unable to contact any
seeds") while the node before it is still settling into the ring."""


class Cluster:
    """The cluster's processes, by name (``cassandra-2``, ``web-1``, ``nginx``, ...)."""

    def __init__(self, layout: topology.Layout | None = None) -> None:
        self.layout = layout or topology.default_layout()
        base = load_config()
        config = dataclasses.replace(
            base,
            home=self.layout.home,
            jars_home=base.jars_dir,
            cassandra_heap_mb=topology.CASSANDRA_HEAP_MB,
            kafka_heap_mb=topology.KAFKA_HEAP_MB,
            start_timeout={**base.start_timeout, "spark": 120, "app": 180},
        )
        self.config = config
        hosts = range(1, len(topology.HOSTS) + 1)
        self.redis = RedisService(config)
        self.kafka = [KafkaNode(config, n) for n in hosts]
        self.cassandra = [CassandraNode(config, n) for n in hosts]
        self.spark_master = SparkMaster(config)
        self.spark_workers = [
            SparkWorker(config, n) for n in range(1, len(topology.SPARK_WORKER_HOSTS) + 1)
        ]
        self.webs = [
            AppProcess(config, self.layout, "web", n) for n in range(1, len(topology.WEB_PORTS) + 1)
        ]
        self.workers = [
            AppProcess(config, self.layout, "worker", n)
            for n in range(1, topology.FORWARDING_WORKERS + 1)
        ]
        self.aggregator = AppProcess(config, self.layout, "aggregator")
        self.beat = AppProcess(config, self.layout, "beat")
        self.balancer = Balancer(config, self.layout)

    @property
    def engines(self) -> list[LocalService]:
        return [self.redis, *self.kafka, *self.cassandra, self.spark_master, *self.spark_workers]

    @property
    def apps(self) -> list[LocalService]:
        return [*self.webs, *self.workers, self.aggregator, self.beat, self.balancer]

    @property
    def processes(self) -> dict[str, LocalService]:
        return {service.name: service for service in [*self.engines, *self.apps]}

    def start(self, progress: Progress) -> dict[str, float]:
        """Start whatever is not running, in order; the seconds each step took."""
        began = time.monotonic()
        timings: dict[str, float] = {}

        def step(name: str, group: Sequence[LocalService]) -> None:
            started = time.monotonic()
            _start_together(group, progress)
            timings[name] = time.monotonic() - started

        step("redis", [self.redis])
        step("kafka", self.kafka)  # a KRaft quorum forms only once a majority runs
        for node in self.cassandra:  # Cassandra nodes join the ring one at a time
            started = time.monotonic()
            _join_ring(node, progress)
            timings[node.name] = time.monotonic() - started
        step("spark", [self.spark_master])
        step("spark workers", list(self.spark_workers))
        started = time.monotonic()
        run_migrate(self.layout, progress)
        timings["migrate"] = time.monotonic() - started
        step("apps", [*self.webs, *self.workers, self.aggregator, self.beat])
        step("nginx", [self.balancer])
        timings["total"] = time.monotonic() - began
        return timings

    def stop(self, progress: Progress) -> None:
        """Stop everything (apps first, then the engines), gracefully."""
        for service in reversed([*self.engines, *self.apps]):
            service.stop(progress)

    def start_one(self, name: str, progress: Progress) -> float:
        return self.processes[name].start(progress)

    def stop_one(self, name: str, progress: Progress) -> None:
        self.processes[name].stop(progress)

    def kill(self, name: str) -> int:
        """SIGKILL a process and its children (its process group); the pid killed."""
        service = self.processes[name]
        pid = service.running_pid()
        if pid is None:
            raise LookupError(f"{name} is not running")
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while service.running_pid() is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        service.pid_file.unlink(missing_ok=True)
        return pid

    def status(self) -> dict[str, str]:
        return {name: service.status() for name, service in self.processes.items()}

    def rss_bytes(self) -> int:
        """Resident memory of every cluster process and its children, summed."""
        groups = {pid for s in self.processes.values() if (pid := s.running_pid()) is not None}
        return sum(_rss(pid) for pid in _pids_in_groups(groups))


def _start_together(group: Sequence[LocalService], progress: Progress) -> None:
    """Launch every service of ``group``, then wait for each."""
    started = time.monotonic()
    launched = [(service, service.launch(progress)) for service in group]
    for service, pid in launched:
        if pid is not None:
            service.await_ready(pid, progress, started)


def _join_ring(node: CassandraNode, progress: Progress) -> None:
    """Start a ring node. A node that had never joined and fails to start is wiped and
    started again, up to JOIN_ATTEMPTS times; a node with data is never wiped."""
    new = not node.node_dir.exists()
    for attempt in range(1, JOIN_ATTEMPTS + 1):
        try:
            _start_together([node], progress)
            return
        except StackError as error:
            if not new or attempt == JOIN_ATTEMPTS:
                raise
            progress(f"{node.name}: failed to join the ring on attempt {attempt}: {error}")
            progress(f"{node.name}: wiping {node.node_dir} and starting it again")
            shutil.rmtree(node.node_dir, ignore_errors=True)


def _pids_in_groups(groups: set[int]) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) in groups:
                    pids.append(int(entry.name))
            except ProcessLookupError:
                continue
    return pids


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
