"""A light SparkSession for the pure transform tests: ``local[1]``, no connector jars,
no Django (the integration tests get the warm session from ``tests/conftest.py``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession


@pytest.fixture(scope="package")
def spark() -> Iterator[SparkSession]:
    """A local session for this package's tests, stopped after them. If the process
    already runs a session (the warm one of an integration test), it is used as it is
    and left running."""
    running = SparkSession.getActiveSession()
    if running is not None:
        yield running
        return
    session = (
        SparkSession.builder.appName("spark-transform-tests")
        .master("local[1]")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("WARN")
    yield session
    session.stop()
