"""The process's warm SparkSession (driver on 127.0.0.1, both connectors), shared by
the Spark transform tests and the aggregation tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    from insights.spark_runtime import get_session

    session = get_session()
    yield session
    session.stop()
