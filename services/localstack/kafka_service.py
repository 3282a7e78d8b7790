"""Kafka 4.x in KRaft combined mode (broker + controller), one node, from Maven jars."""

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
    name = "kafka"

    def ports(self) -> dict[str, int]:
        return {
            "KAFKA_PORT": self.config.kafka_port,
            "KAFKA_CONTROLLER_PORT": self.config.kafka_controller_port,
        }

    def _properties(self) -> str:
        host, port = self.config.host, self.config.kafka_port
        controller = self.config.kafka_controller_port
        log_dir = self.config.data_dir / "kafka"
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{host}:{controller}",
            "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller}",
            "advertised.listeners": f"PLAINTEXT://{host}:{port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(log_dir),
            "num.partitions": "3",
            "auto.create.topics.enable": "true",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.retention.hours": "168",
        }
        return "".join(f"{key}={value}\n" for key, value in lines.items())

    def prepare(self, progress: Callable[[str], None]) -> list[str]:
        java = require_java(self.config.java_home, service="Kafka", allowed=(17, 21, 23, 24, 25))
        jars = require_jars(self.config, "kafka")
        conf = self.config.conf_dir / "kafka"
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
        if not (self.config.data_dir / "kafka" / "meta.properties").exists():
            progress("kafka: formatting the KRaft log directory (first start)")
            _format_storage([*base, "kafka.tools.StorageTool"], properties)
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
                bootstrap_servers=f"{self.config.host}:{self.config.kafka_port}",
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


def _format_storage(storage_tool: list[str], properties: Path) -> None:
    """Run ``StorageTool format`` once with a fresh cluster id; raise on failure."""
    command = [*storage_tool, "format", "-t", _random_cluster_id(), "-c", str(properties)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        raise StackError("formatting Kafka storage did not finish within 120s") from None
    if result.returncode != 0:
        raise StackError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")


def _random_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
