"""The process's SparkSession, built on first use from settings and kept warm.

A dedicated Celery worker (queue ``AGGREGATION_QUEUE``, concurrency 1) holds it
between runs, so a run pays for Spark's JVM start once, not every time.
"""

from __future__ import annotations

import threading

from django.conf import settings
from pyspark.sql import SparkSession

_lock = threading.Lock()
_session: SparkSession | None = None


def get_session() -> SparkSession:
    """The warm session (``SPARK_MASTER_URL``, both connectors, Cassandra from settings)."""
    global _session
    with _lock:
        if _session is None or _session.sparkContext._jsc is None:
            from spark.session import build_session

            _session = build_session(
                app_name="analytics-aggregation",
                master=settings.SPARK_MASTER_URL,
                jars_dir=settings.SPARK_JARS_DIR,
                cassandra_host=",".join(settings.CASSANDRA_HOSTS),
                cassandra_port=settings.CASSANDRA_PORT,
                consistency=settings.CASSANDRA_JOB_CONSISTENCY,
                driver_memory=settings.SPARK_DRIVER_MEMORY,
                driver_host=settings.SPARK_DRIVER_HOST,
                driver_bind_address=settings.SPARK_DRIVER_BIND_ADDRESS,
                executor_memory=settings.SPARK_EXECUTOR_MEMORY,
            )
        return _session


def cancel_job_group(group: str) -> None:
    """Cancel the running Spark jobs of ``group`` (``setJobGroup``), if a session exists;
    safe to call from any thread."""
    with _lock:
        session = _session
    if session is not None and session.sparkContext._jsc is not None:
        session.sparkContext.cancelJobGroup(group)


def reset_cassandra_connections() -> None:
    """Drop the Cassandra connector's pooled sessions, if a session exists, so the next
    job connects afresh. A pooled session that sat idle through a Cassandra restart can
    stay without a control channel ("Control channel not available") for good."""
    with _lock:
        session = _session
    if session is not None and session.sparkContext._jsc is not None:
        jvm = session._jvm
        assert jvm is not None  # set with the gateway when the live context started
        jvm.com.datastax.spark.connector.cql.CassandraConnector.evictCache()
