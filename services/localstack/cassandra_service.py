"""Cassandra 5.0 from ``cassandra-all`` on JDK 17, one node, generated config."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from .errors import StackError
from .java import require_java
from .service import LocalService, require_jars

# The module flags Cassandra's own conf/jvm17-server.options passes on JDK 17.
_JDK17_MODULE_FLAGS = [
    "-Djdk.attach.allowAttachSelf=true",
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-exports=java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
    "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports=java.rmi/sun.rmi.server=ALL-UNNAMED",
    "--add-exports=java.sql/java.sql=ALL-UNNAMED",
    "--add-exports=java.base/java.lang.ref=ALL-UNNAMED",
    "--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.module=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.loader=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.reflect=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.math=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.module=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.util.jar=ALL-UNNAMED",
    "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.math=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=java.base/java.net=ALL-UNNAMED",
]

_LOGBACK = """\
<configuration scan="false">
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="STDOUT" /></root>
  <logger name="org.apache.cassandra" level="INFO"/>
</configuration>
"""


class CassandraService(LocalService):
    """One node; a ring's node (``services.cluster``) overrides the hooks below."""

    name = "cassandra"
    # Where the replicas of a keyspace are placed: one node needs no topology.
    snitch = "SimpleSnitch"
    # The replication factor token allocation optimises for (the keyspace's RF).
    token_replication_factor = 1
    # Rows a job batches together share a replica set; on one node that is every row.
    cross_partition_batch_warn = 1000

    @property
    def node_dir(self) -> Path:
        """The node's data (``data``, ``commitlog``, ...) below this folder."""
        return self.config.data_dir / "cassandra"

    @property
    def node_conf_dir(self) -> Path:
        return self.config.conf_dir / "cassandra"

    def seeds(self) -> str:
        """The ``seeds`` parameter: ``host:storage_port`` of each seed, comma-separated."""
        return f"{self.host}:{self.config.cassandra_storage_port}"

    def write_topology(self, conf: Path) -> None:
        """Write what the snitch reads from the classpath (nothing for SimpleSnitch)."""

    def ports(self) -> dict[str, int]:
        return {
            "CASSANDRA_PORT": self.config.cassandra_port,
            "CASSANDRA_STORAGE_PORT": self.config.cassandra_storage_port,
        }

    def _yaml(self, root: Path) -> str:
        host = self.host
        return f"""\
cluster_name: analytics-local
num_tokens: 16
allocate_tokens_for_local_replication_factor: {self.token_replication_factor}
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: {self.snitch}
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "{self.seeds()}"
listen_address: {host}
rpc_address: {host}
storage_port: {self.config.cassandra_storage_port}
native_transport_port: {self.config.cassandra_port}
start_native_transport: true
data_file_directories:
  - {root}/data
commitlog_directory: {root}/commitlog
saved_caches_directory: {root}/saved_caches
hints_directory: {root}/hints
cdc_raw_directory: {root}/cdc_raw
commitlog_sync: periodic
commitlog_sync_period: 10000ms
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
role_manager: CassandraRoleManager
disk_failure_policy: stop
commit_failure_policy: stop
concurrent_reads: 16
concurrent_writes: 16
concurrent_counter_writes: 16
memtable_allocation_type: heap_buffers
compaction_throughput: 64MiB/s
key_cache_size: 32MiB
read_request_timeout: 10000ms
write_request_timeout: 5000ms
range_request_timeout: 20000ms
request_timeout: 20000ms
materialized_views_enabled: false
sasi_indexes_enabled: false
# The aggregation job writes raw events in single-partition batches of up to 64 KiB.
batch_size_warn_threshold: 128KiB
batch_size_fail_threshold: 1024KiB
# The jobs batch rows by replica set: on one node that spans many partitions by design
# (still one replica per batch), so no warning for it there.
unlogged_batch_across_partitions_warn_threshold: {self.cross_partition_batch_warn}
"""

    def prepare(self, progress: Callable[[str], None]) -> list[str]:
        java = require_java(self.config.java_home, service="Cassandra 5.0", allowed=(11, 17))
        jars = require_jars(self.config, "cassandra")
        jamm = sorted(jars.glob("jamm-*.jar"))
        if not jamm:
            raise StackError(f"the jamm agent jar is missing from {jars}; run `make install`")
        root = self.node_dir
        root.mkdir(parents=True, exist_ok=True)
        conf = self.node_conf_dir
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "cassandra.yaml").write_text(self._yaml(root))
        (conf / "logback.xml").write_text(_LOGBACK)
        self.write_topology(conf)
        heap = self.config.cassandra_heap_mb
        return [
            java,
            f"-javaagent:{jamm[-1]}",
            f"-Xms{heap}m",
            f"-Xmx{heap}m",
            "-Xss256k",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=300",
            "-XX:+HeapDumpOnOutOfMemoryError",
            "-XX:+CrashOnOutOfMemoryError",
            f"-XX:HeapDumpPath={root}",
            "-Djava.net.preferIPv4Stack=true",
            f"-Dcassandra.config=file://{conf}/cassandra.yaml",
            f"-Dlogback.configurationFile={conf}/logback.xml",
            f"-Dcassandra.logdir={self.config.log_dir}",
            f"-Dcassandra.storagedir={root}",
            "-Dcassandra-foreground=yes",
            "-Dcassandra.skip_wait_for_gossip_to_settle=0",
            "-Dcassandra.superuser_setup_delay_ms=0",
            "-Dcassandra.ring_delay_ms=1000",
            *_JDK17_MODULE_FLAGS,
            "-cp",
            f"{conf}:{jars}/*",
            "org.apache.cassandra.service.CassandraDaemon",
        ]

    def probe(self) -> bool:
        try:
            from cassandra.cluster import Cluster
        except ImportError as exc:  # run under the project's virtualenv
            raise StackError(f"the Cassandra driver is not installed: {exc}") from None
        logging.getLogger("cassandra").setLevel(logging.CRITICAL)
        from cassandra.policies import WhiteListRoundRobinPolicy

        cluster = Cluster(
            [self.host],
            port=self.config.cassandra_port,
            connect_timeout=2,
            control_connection_timeout=2,
            # Ask this node, not whichever node of a ring the driver discovers.
            load_balancing_policy=WhiteListRoundRobinPolicy([self.host]),
        )
        try:
            session = cluster.connect()
            row = session.execute("SELECT release_version FROM system.local").one()
            return row is not None
        except Exception:  # any failure (NoHostAvailable, timeouts) means not ready yet
            return False
        finally:
            cluster.shutdown()
