"""The loopback cluster's shape, in one place: which node binds which address, and the
environment every app process gets.

The app environment has exactly the keys of ``x-app-env`` in ``docker/compose.yaml``, and
each role adds exactly the keys its compose service adds (tests/scaleout checks both),
so the cluster runs the same code with the same settings as the container stack; only
the values differ (loopback addresses instead of container names).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from services.localstack.config import REPO_ROOT

# Kafka brokers and Cassandra nodes: one per address, the same ports on each.
HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
CASSANDRA_DC = "dc1"
CASSANDRA_RACK = "rack1"
CASSANDRA_HEAP_MB = 768
KAFKA_HEAP_MB = 384
KAFKA_REPLICATION_FACTOR = 3
KAFKA_MIN_INSYNC_REPLICAS = 2
KAFKA_PARTITIONS = 6

SPARK_MASTER_HOST = "127.0.0.1"
SPARK_MASTER_PORT = 7077
SPARK_MASTER_UI_PORT = 8090
# Two workers on their own addresses, one core each: the machine has two.
SPARK_WORKER_HOSTS = ("127.0.0.2", "127.0.0.3")
SPARK_WORKER_CORES = 1
SPARK_WORKER_MEMORY = "1536m"
SPARK_EXECUTOR_MEMORY = "1g"
SPARK_DAEMON_MEMORY = "256m"

WEB_PORTS = (8001, 8002)
BALANCER_PORT = 8443  # TLS, what clients use
BALANCER_HTTP_PORT = 8080
FORWARDING_WORKERS = 2


@dataclass(frozen=True)
class Layout:
    """Where the cluster keeps its state (``var/cluster`` unless ``home`` says otherwise)."""

    home: Path

    @property
    def database(self) -> Path:
        return self.home / "db.sqlite3"

    @property
    def secret_key_file(self) -> Path:
        return self.home / "secret_key"

    @property
    def balancer_dir(self) -> Path:
        return self.home / "nginx"


def default_layout() -> Layout:
    return Layout(home=REPO_ROOT / "var" / "cluster")


def spark_master_url() -> str:
    return f"spark://{SPARK_MASTER_HOST}:{SPARK_MASTER_PORT}"


def secret_key(layout: Layout) -> str:
    """The cluster's Django secret key, made once and kept (mode 0600) in its home."""
    path = layout.secret_key_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def app_env(layout: Layout) -> dict[str, str]:
    """What every app process gets: the keys of compose's ``x-app-env``, for loopback."""
    public = f"127.0.0.1:{BALANCER_PORT}"
    return {
        "DJANGO_SECURE": "true",
        "DJANGO_SECRET_KEY": secret_key(layout),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_CSRF_TRUSTED_ORIGINS": f"https://{public}",
        "EVENT_ID_REQUEST_HEADER": "X-Request-Id",
        # nginx reaches the web instances from 127.0.0.1 only.
        "TRUSTED_PROXIES": "127.0.0.1/32",
        # One SQLite file shared by the processes (compose: PostgreSQL; README says why).
        "DATABASE_URL": f"sqlite:///{layout.database}",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "KAFKA_BOOTSTRAP_SERVERS": ",".join(f"{host}:9092" for host in HOSTS),
        "KAFKA_TOPIC_PARTITIONS": str(KAFKA_PARTITIONS),
        "KAFKA_TOPIC_REPLICATION_FACTOR": str(KAFKA_REPLICATION_FACTOR),
        "KAFKA_TOPIC_MIN_INSYNC_REPLICAS": str(KAFKA_MIN_INSYNC_REPLICAS),
        "CASSANDRA_HOSTS": ",".join(HOSTS),
        "CASSANDRA_LOCAL_DC": CASSANDRA_DC,
        "CASSANDRA_REPLICATION_STRATEGY": "NetworkTopologyStrategy",
        "CASSANDRA_REPLICATION_FACTOR": "3",
        "CASSANDRA_JOB_CONSISTENCY": "LOCAL_QUORUM",
        "SPARK_MASTER_URL": spark_master_url(),
    }


# What each role adds to ``app_env``, as its compose service does.
ROLE_ENV: dict[str, dict[str, str]] = {
    "web": {"WEB_WORKERS": "2"},
    "worker": {"WORKER_CONCURRENCY": "2"},
    "aggregator": {
        "SPARK_DRIVER_HOST": "127.0.0.1",
        "SPARK_DRIVER_BIND_ADDRESS": "127.0.0.1",
        "SPARK_DRIVER_MEMORY": "1g",
        "SPARK_EXECUTOR_MEMORY": SPARK_EXECUTOR_MEMORY,
    },
    "beat": {},
}
