"""The environment a benchmark process runs in, apart from the system's own data."""

from __future__ import annotations

import os
import tempfile
import uuid


def isolate(*, keyspace: str = "bench_analytics") -> str:
    """Point this process's Django (set up after this call) at Kafka topics of their own
    (a fresh topic prefix), the benchmark keyspace ``keyspace`` and a throwaway SQLite
    database; returns the topic prefix."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}.events"
    os.environ |= {
        "DJANGO_SETTINGS_MODULE": "analytics_site.settings",
        "KAFKA_TOPIC_PREFIX": prefix,
        "CASSANDRA_KEYSPACE": keyspace,
        "DATABASE_URL": f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3",
    }
    return prefix
