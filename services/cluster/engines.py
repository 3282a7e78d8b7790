"""The distributed engines as nodes on loopback addresses: Cassandra ring nodes and Kafka
KRaft nodes (the single-node services with per-node hooks), and Spark standalone's
master and workers from the pyspark wheel."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path

from services.localstack.cassandra_service import CassandraService
from services.localstack.config import StackConfig
from services.localstack.java import require_java
from services.localstack.kafka_service import KafkaService, random_cluster_id
from services.localstack.service import LocalService

from . import topology


class _NumberedNode:
    """Process ``index`` (1-based) of a group, named ``{name_prefix}-{index}``."""

    name_prefix: str

    def __init__(self, config: StackConfig, index: int) -> None:
        super().__init__(config)  # type: ignore[call-arg]  # the LocalService next in the MRO
        self.index = index
        self.name = f"{self.name_prefix}-{index}"


class _LoopbackNode(_NumberedNode):
    """Node ``index`` of a three-node engine: on ``topology.HOSTS[index - 1]``, its
    configuration in its own directory, started within the engine's timeout."""

    config: StackConfig
    engine: str

    @property
    def name_prefix(self) -> str:  # type: ignore[override]
        return self.engine

    @property
    def host(self) -> str:
        return topology.HOSTS[self.index - 1]

    @property
    def timeout_key(self) -> str:
        return self.engine

    @property
    def node_conf_dir(self) -> Path:
        return self.config.conf_dir / self.name


class CassandraNode(_LoopbackNode, CassandraService):
    """A node of the ring; the first is the seed. GossipingPropertyFileSnitch puts every
    node in one data centre, so the keyspace can use NetworkTopologyStrategy."""

    engine = "cassandra"
    snitch = "GossipingPropertyFileSnitch"
    token_replication_factor = 3

    @property
    def node_dir(self) -> Path:
        return self.config.data_dir / self.name

    def seeds(self) -> str:
        return f"{topology.HOSTS[0]}:{self.config.cassandra_storage_port}"

    def write_topology(self, conf: Path) -> None:
        (conf / "cassandra-rackdc.properties").write_text(
            f"dc={topology.CASSANDRA_DC}\nrack={topology.CASSANDRA_RACK}\n"
        )


class KafkaNode(_LoopbackNode, KafkaService):
    """One of three combined broker+controller nodes: one KRaft quorum, one cluster id
    (made once, kept in the stack home), topics RF 3 with min ISR 2."""

    engine = "kafka"
    replication_factor = topology.KAFKA_REPLICATION_FACTOR
    min_insync_replicas = topology.KAFKA_MIN_INSYNC_REPLICAS
    auto_create_topics = False  # create_topics makes them, with the settings' RF and ISR

    def __init__(self, config: StackConfig, index: int) -> None:
        super().__init__(config, index)
        self.node_id = index

    @property
    def log_dir(self) -> Path:
        return self.config.data_dir / self.name

    def quorum_voters(self) -> str:
        port = self.config.kafka_controller_port
        return ",".join(f"{n}@{host}:{port}" for n, host in enumerate(topology.HOSTS, 1))

    def cluster_id(self) -> str:
        path = self.config.home / "kafka-cluster-id"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(random_cluster_id())
        return path.read_text().strip()


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def master_state(timeout: float = 2) -> dict | None:
    """The standalone master's ``/json`` state (status, workers), or None if it does not
    answer."""
    url = f"http://{topology.SPARK_MASTER_HOST}:{topology.SPARK_MASTER_UI_PORT}/json/"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return dict(json.load(answer))
    except (OSError, ValueError):
        return None


class _SparkDaemon(LocalService):
    """A Spark standalone daemon through the wheel's ``bin/spark-class``, bound to
    ``host`` (``SPARK_LOCAL_IP``: its RPC, its web UI and the executors it launches)."""

    @property
    def timeout_key(self) -> str:
        return "spark"

    def daemon_command(self) -> list[str]:
        raise NotImplementedError

    def prepare(self, progress: Callable[[str], None]) -> list[str]:
        require_java(self.config.java_home, service="Spark 3.5", allowed=(11, 17))
        return [str(_spark_home() / "bin" / "spark-class"), *self.daemon_command()]

    def extra_env(self) -> dict[str, str]:
        env = {
            "SPARK_HOME": str(_spark_home()),
            "SPARK_LOCAL_IP": self.host,
            "SPARK_DAEMON_MEMORY": topology.SPARK_DAEMON_MEMORY,
            "SPARK_LOG_DIR": str(self.config.log_dir),
            "SPARK_NO_DAEMONIZE": "1",
        }
        if self.config.java_home:
            env["JAVA_HOME"] = self.config.java_home
        return env


class SparkMaster(_SparkDaemon):
    name = "spark-master"

    @property
    def host(self) -> str:
        return topology.SPARK_MASTER_HOST

    def ports(self) -> dict[str, int]:
        return {
            "SPARK_MASTER_PORT": topology.SPARK_MASTER_PORT,
            "SPARK_MASTER_UI_PORT": topology.SPARK_MASTER_UI_PORT,
        }

    def daemon_command(self) -> list[str]:
        return [
            "org.apache.spark.deploy.master.Master",
            "--host",
            self.host,
            "--port",
            str(topology.SPARK_MASTER_PORT),
            "--webui-port",
            str(topology.SPARK_MASTER_UI_PORT),
        ]

    def probe(self) -> bool:
        state = master_state()
        return state is not None and state.get("status") == "ALIVE"


class SparkWorker(_NumberedNode, _SparkDaemon):
    """Worker ``index`` on ``topology.SPARK_WORKER_HOSTS[index - 1]``: one core; its
    executors run the jobs' tasks, with the jars and Python code the driver ships."""

    name_prefix = "spark-worker"

    @property
    def host(self) -> str:
        return topology.SPARK_WORKER_HOSTS[self.index - 1]

    def ports(self) -> dict[str, int]:
        return {"SPARK_WORKER_UI_PORT": topology.SPARK_MASTER_UI_PORT + self.index}

    def daemon_command(self) -> list[str]:
        work = self.config.data_dir / self.name
        work.mkdir(parents=True, exist_ok=True)
        return [
            "org.apache.spark.deploy.worker.Worker",
            "--host",
            self.host,
            "--cores",
            str(topology.SPARK_WORKER_CORES),
            "--memory",
            topology.SPARK_WORKER_MEMORY,
            "--work-dir",
            str(work),
            "--webui-port",
            str(topology.SPARK_MASTER_UI_PORT + self.index),
            topology.spark_master_url(),
        ]

    def probe(self) -> bool:
        state = master_state()
        if state is None:
            return False
        return any(
            worker.get("host") == self.host and worker.get("state") == "ALIVE"
            for worker in state.get("workers", [])
        )
