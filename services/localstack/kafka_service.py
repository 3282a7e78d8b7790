"""Kafka 4.x in KRaft combined mode (broker + controller), from Maven jars."""

from __future__ import annotations

import base64
import logging
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

from .errors import StackError
from .java import require_java
from .service import LocalService, require_jars

_LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.state.name = state.change.logger
logger.state.level = WARN
"""


class KafkaService(LocalService):
    """One combined broker and controller; a cluster's node (``services.cluster``)
    overrides the hooks below."""

    name = "kafka"
    node_id = 1
    # Replication of Kafka's internal topics (offsets, transactions) and the topic default.
    replication_factor = 1
    min_insync_replicas = 1
    auto_create_topics = True

    def ports(self) -> dict[str, int]:
        return {
            "KAFKA_PORT": self.config.kafka_port,
            "KAFKA_CONTROLLER_PORT": self.config.kafka_controller_port,
        }

    @property
    def log_dir(self) -> Path:
        return self.config.data_dir / "kafka"

    @property
    def node_conf_dir(self) -> Path:
        return self.config.conf_dir / "kafka"

    def quorum_voters(self) -> str:
        """``controller.quorum.voters``: ``id@host:port`` of every controller."""
        return f"{self.node_id}@{self.host}:{self.config.kafka_controller_port}"

    def cluster_id(self) -> str:
        """The id ``StorageTool format`` stamps on the log directory (fresh per stack)."""
        return random_cluster_id()

    def _properties(self) -> str:
        host, port = self.host, self.config.kafka_port
        controller = self.config.kafka_controller_port
        factor, isr = str(self.replication_factor), str(self.min_insync_replicas)
        lines = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.quorum_voters(),
            "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller}",
            "advertised.listeners": f"PLAINTEXT://{host}:{port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.log_dir),
            "num.partitions": "3",
            "auto.create.topics.enable": str(self.auto_create_topics).lower(),
            "default.replication.factor": factor,
            "min.insync.replicas": isr,
            "offsets.topic.replication.factor": factor,
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": factor,
            "transaction.state.log.min.isr": isr,
            "share.coordinator.state.topic.replication.factor": factor,
            "share.coordinator.state.topic.min.isr": isr,
            "group.initial.rebalance.delay.ms": "0",
            "log.retention.hours": "168",
        }
        return "".join(f"{key}={value}\n" for key, value in lines.items())

    def prepare(self, progress: Callable[[str], None]) -> list[str]:
        java = require_java(self.config.java_home, service="Kafka", allowed=(17, 21, 23, 24, 25))
        jars = require_jars(self.config, "kafka")
        conf = self.node_conf_dir
        conf.mkdir(parents=True, exist_ok=True)
        properties = conf / "server.properties"
        properties.write_text(self._properties())
        log4j = conf / "log4j2.properties"
        log4j.write_text(_LOG4J2)
        base = [
            java,
            f"-Xms{self.config.kafka_heap_mb}m",
            f"-Xmx{self.config.kafka_heap_mb}m",
            "-XX:+UseG1GC",
            "-Djava.net.preferIPv4Stack=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            f"{jars}/*",
        ]
        if not (self.log_dir / "meta.properties").exists():
            progress(f"{self.name}: formatting the KRaft log directory (first start)")
            _format_storage([*base, "kafka.tools.StorageTool"], properties, self.cluster_id())
        return [*base, "kafka.Kafka", str(properties)]

    def probe(self) -> bool:
        try:
            from kafka import KafkaAdminClient
            from kafka.errors import KafkaError
        except ImportError as exc:  # run under the project's virtualenv
            raise StackError(f"kafka-python is not installed: {exc}") from None
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=f"{self.host}:{self.config.kafka_port}",
                request_timeout_ms=3000,
            )
        except (KafkaError, OSError):
            return False
        try:
            admin.list_topics()
            return True
        except (KafkaError, OSError):
            return False
        finally:
            admin.close()


def _format_storage(storage_tool: list[str], properties: Path, cluster_id: str) -> None:
    """Run ``StorageTool format`` once with ``cluster_id``; raise on failure."""
    command = [*storage_tool, "format", "-t", cluster_id, "-c", str(properties)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        raise StackError("formatting Kafka storage did not finish within 120s") from None
    if result.returncode != 0:
        raise StackError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")


def random_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding.

    Never starts with ``-`` (as Kafka's own ``Uuid.randomUuid``): the storage tool's
    argument parser would read such an id as an option and refuse to format.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
