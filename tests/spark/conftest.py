"""One local SparkSession (driver on 127.0.0.1) with the connector jars, per test session."""

from __future__ import annotations

import pytest
from django.conf import settings

from spark.session import build_session


@pytest.fixture(scope="session")
def spark():
    session = build_session(
        app_name="tests",
        master="local[2]",
        jars_dir=settings.SPARK_JARS_DIR,
        cassandra_host=settings.CASSANDRA_HOSTS[0],
        cassandra_port=settings.CASSANDRA_PORT,
    )
    yield session
    session.stop()
