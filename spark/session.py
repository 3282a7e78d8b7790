"""Build a SparkSession bound to 127.0.0.1 with the Kafka and Cassandra connectors.

The connector jars come from a local folder (``var/jars/spark``) through
``spark.jars``; nothing is resolved through Ivy. Jars that pyspark already ships
(Scala, Hadoop client, logging, compression) are skipped to avoid conflicts.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import tempfile
import zipfile
from pathlib import Path

from pyspark.sql import SparkSession

_VERSIONED_JAR = re.compile(r"^(?P<artifact>.+?)-\d[\w.\-]*\.jar$")


def _artifact(jar: Path) -> str:
    match = _VERSIONED_JAR.match(jar.name)
    return match.group("artifact") if match else jar.stem


def connector_jars(jars_dir: Path) -> list[str]:
    """Jars in ``jars_dir`` whose artifact pyspark does not already bundle."""
    import pyspark

    bundled_dir = Path(pyspark.__file__).parent / "jars"
    bundled = {_artifact(jar) for jar in bundled_dir.glob("*.jar")}
    jars = sorted(jars_dir.glob("*.jar"))
    if not jars:
        raise FileNotFoundError(
            f"no connector jars in {jars_dir}; run `make install` to fetch them"
        )
    return [str(jar) for jar in jars if _artifact(jar) not in bundled]


def package_zip() -> Path:
    """This ``spark`` package as a zip (made once per process), for the executors of a
    cluster: the jobs' UDFs are pickled by reference to its modules. Removed at exit."""
    package = Path(__file__).resolve().parent
    target = Path(tempfile.gettempdir()) / f"analytics-spark-{os.getpid()}.zip"
    if not target.exists():
        atexit.register(target.unlink, missing_ok=True)
        with zipfile.ZipFile(target, "w") as archive:
            for source in sorted(package.rglob("*.py")):
                archive.write(source, source.relative_to(package.parent))
    return target


def build_session(
    *,
    app_name: str,
    master: str = "local[2]",
    jars_dir: Path,
    cassandra_host: str = "127.0.0.1",
    cassandra_port: int = 9042,
    consistency: str = "LOCAL_QUORUM",
    driver_memory: str = "2g",
    driver_host: str = "127.0.0.1",
    driver_bind_address: str = "127.0.0.1",
    executor_memory: str = "1g",
    extra_conf: dict[str, str] | None = None,
) -> SparkSession:
    """A SparkSession on ``master`` with both connectors.

    The driver binds ``driver_bind_address`` and tells executors to reach it at
    ``driver_host`` (both 127.0.0.1 locally; the container's name on a cluster).
    ``cassandra_host`` may list several contact points, comma-separated.

    The job reads what it wrote, so Cassandra reads and writes use ``consistency``
    (LOCAL_QUORUM by default: read-your-writes on a replicated ring).
    ``driver_memory`` applies only when this call starts the JVM.

    On a standalone cluster (``master`` ``spark://...``) the executors get
    ``executor_memory`` each, the connector jars through ``spark.jars``, this package
    through ``addPyFile`` and this interpreter for their Python workers.
    """
    os.environ.setdefault("SPARK_LOCAL_IP", driver_bind_address)
    builder = (
        SparkSession.builder.appName(app_name)
        .master(master)
        .config("spark.jars", ",".join(connector_jars(jars_dir)))
        .config("spark.driver.host", driver_host)
        .config("spark.driver.bindAddress", driver_bind_address)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.cassandra.connection.host", cassandra_host)
        .config("spark.cassandra.connection.port", str(cassandra_port))
        .config("spark.sql.extensions", "com.datastax.spark.connector.CassandraSparkExtensions")
        .config("spark.cassandra.input.consistency.level", consistency)
        .config("spark.cassandra.output.consistency.level", consistency)
        .config("spark.driver.memory", driver_memory)
        # Writes go in unlogged batches of rows bound for the same replicas, up to
        # 8 KiB of values each (well under Cassandra's 50 KiB default failure threshold).
        .config("spark.cassandra.output.batch.grouping.key", "replica_set")
        .config("spark.cassandra.output.batch.size.bytes", "8192")
        .config("spark.cassandra.output.concurrent.writes", "16")
    )
    # The Python workers run this interpreter, with its packages (a deletion's tasks use
    # the Cassandra driver), unless PYSPARK_PYTHON names another; PySpark reads it when
    # the context starts.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    on_cluster = master.startswith("spark://")
    if on_cluster:
        builder = builder.config("spark.executor.memory", executor_memory).config(
            "spark.pyspark.python", sys.executable
        )
    for key, value in (extra_conf or {}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    if on_cluster:
        session.sparkContext.addPyFile(str(package_zip()))
    return session
