"""Run the project's infrastructure (Redis, Kafka, Cassandra) as local processes.

No containers: Kafka and Cassandra run from Maven Central jars, Redis from
Debian's package. Jars, data, logs and pid files live under ``var/`` (git-ignored).
Entry point: ``python -m services.localstack {install,start,stop,status}``.
"""
