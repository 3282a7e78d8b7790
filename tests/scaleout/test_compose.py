"""docker/: the compose file is valid Compose and names only what the code has."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

from services.localstack.config import load_config
from services.localstack.install import compose_schema_path

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE = yaml.safe_load((DOCKER / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
APP_IMAGE = "analytics-app:latest"
APP_SERVICES = {name: s for name, s in SERVICES.items() if s.get("image") == APP_IMAGE}
ENTRYPOINT = (DOCKER / "entrypoint.sh").read_text()
SETTINGS = (REPO / "analytics_site" / "settings.py").read_text()


def test_compose_file_follows_the_compose_specification() -> None:
    schema_file = compose_schema_path(load_config())
    assert schema_file.exists(), f"{schema_file} missing: run `make install`"
    schema = json.loads(schema_file.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(COMPOSE)]
    assert errors == []


def test_the_schema_check_rejects_a_broken_file() -> None:
    schema = json.loads(compose_schema_path(load_config()).read_text())
    broken = {"services": {"web": {"image": "x", "depends_on": {"db": {"condition": "up"}}}}}
    assert not jsonschema.Draft202012Validator(schema).is_valid(broken)


def test_topology() -> None:
    kafka = [n for n, s in SERVICES.items() if s.get("image", "").startswith("apache/kafka")]
    cassandra = [n for n, s in SERVICES.items() if s.get("image", "").startswith("cassandra")]
    spark = [n for n, s in SERVICES.items() if s.get("image", "").startswith("apache/spark")]
    assert len(kafka) == 3
    assert len(cassandra) == 3
    assert sorted(spark) == ["spark-master", "spark-worker-1", "spark-worker-2"]
    for name in kafka:
        env = SERVICES[name]["environment"]
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].count("@") == 3
        assert (env["KAFKA_DEFAULT_REPLICATION_FACTOR"], env["KAFKA_MIN_INSYNC_REPLICAS"]) == (3, 2)
    app_env = SERVICES["web-1"]["environment"]
    assert app_env["KAFKA_TOPIC_REPLICATION_FACTOR"] == 3
    assert app_env["KAFKA_TOPIC_MIN_INSYNC_REPLICAS"] == 2
    assert app_env["CASSANDRA_REPLICATION_STRATEGY"] == "NetworkTopologyStrategy"
    assert app_env["CASSANDRA_REPLICATION_FACTOR"] == 3
    assert app_env["SPARK_MASTER_URL"] == "spark://spark-master:7077"
    assert app_env["DATABASE_URL"].startswith("postgres://")
    assert "--appendonly" in SERVICES["redis"]["command"]
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    roles = [s["command"][0] for s in APP_SERVICES.values()]
    assert roles.count("web") >= 2
    assert roles.count("beat") == 1
    assert {"worker", "aggregator", "migrate"} <= set(roles)


def test_nginx_balances_every_web_instance() -> None:
    conf = (DOCKER / "nginx" / "default.conf").read_text()
    upstream = set(re.findall(r"server (web-\d+):8000", conf))
    webs = {name for name, s in APP_SERVICES.items() if s["command"] == ["web"]}
    assert upstream == webs
    assert "include /etc/nginx/analytics/proxy.conf;" in conf
    mounts = SERVICES["nginx"]["volumes"]
    assert "./nginx/proxy.conf:/etc/nginx/analytics/proxy.conf:ro" in mounts


def test_every_dependency_condition_is_satisfiable() -> None:
    for name, service in SERVICES.items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in SERVICES, f"{name} depends on unknown {target}"
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[target], f"{name} waits on {target}'s health"
            if rule["condition"] == "service_completed_successfully":
                assert SERVICES[target].get("restart") == "no"
    long_running = [n for n, s in SERVICES.items() if s.get("restart") != "no"]
    missing = [n for n in long_running if "healthcheck" not in SERVICES[n]]
    assert set(missing) <= {"worker", "aggregator", "beat", "spark-worker-1", "spark-worker-2"}


def test_every_app_command_is_a_role_of_the_entrypoint() -> None:
    roles = set(re.findall(r"^  ([a-z]+)\)$", ENTRYPOINT, flags=re.M))
    assert roles == {"web", "worker", "aggregator", "beat", "migrate"}
    for name, service in APP_SERVICES.items():
        assert service["command"][0] in roles, name
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["sh", "docker/entrypoint.sh"]' in dockerfile
    procfile = (REPO / "Procfile").read_text()
    for role in ("web", "worker", "aggregator", "beat"):
        assert f"{role}: sh docker/entrypoint.sh {role}" in procfile


def test_what_the_entrypoint_runs_exists() -> None:
    from django.core.management import get_commands

    commands = get_commands()
    for command in re.findall(r"python manage\.py (\w+)", ENTRYPOINT):
        assert command in commands, command
    assert "gunicorn analytics_site.wsgi" in ENTRYPOINT
    assert (REPO / "analytics_site" / "wsgi.py").exists()
    assert "celery -A analytics_site" in ENTRYPOINT
    from django.conf import settings

    assert f"${{AGGREGATION_QUEUE:-{settings.AGGREGATION_QUEUE}}}" in ENTRYPOINT
    assert settings.CELERY_BEAT_SCHEDULER in ENTRYPOINT


def test_every_app_environment_variable_is_read_by_the_code() -> None:
    spark_session = (REPO / "spark" / "session.py").read_text()
    for name, service in APP_SERVICES.items():
        for variable in service["environment"]:
            read = (
                f'"{variable}"' in SETTINGS
                or f"${{{variable}" in ENTRYPOINT
                or f'"{variable}"' in spark_session
            )
            assert read, f"{name}: {variable} is not read anywhere"


def _compose_app_environment() -> dict[str, str]:
    """The web service's environment as compose would pass it (variables filled in)."""
    values = {"DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "PUBLIC_HOST": "a.example.com"}

    def fill(text: str) -> str:
        return re.sub(
            r"\$\{(\w+)(?::[-?]([^}]*))?\}",
            lambda m: values.get(m.group(1), m.group(2) or ""),
            text,
        )

    return {k: fill(str(v)) for k, v in SERVICES["web-1"]["environment"].items()}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_stack_settings() -> None:
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_compose_app_environment())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_mode_refuses_to_start_without_a_secret() -> None:
    env = _compose_app_environment()
    del env["DJANGO_SECRET_KEY"]
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "Set the DJANGO_SECRET_KEY environment variable" in result.stderr


def test_the_loopback_cluster_sets_what_compose_sets(tmp_path) -> None:
    """``make cluster`` runs the same settings as the container stack: every app process
    gets exactly the keys of ``x-app-env``, and each role exactly the keys its compose
    service adds; only the values (addresses) differ."""
    from services.cluster import topology

    shared = set(COMPOSE["x-app-env"])
    layout = topology.Layout(home=tmp_path)
    assert set(topology.app_env(layout)) == shared
    for role, added in topology.ROLE_ENV.items():
        services = [s for s in APP_SERVICES.values() if s["command"][0] == role]
        assert services, f"no compose service runs {role}"
        for service in services:
            assert set(service["environment"]) - shared == set(added), role
    cluster = topology.app_env(layout)
    assert cluster["SPARK_MASTER_URL"].startswith("spark://127.0.0.1:")
    assert len(cluster["CASSANDRA_HOSTS"].split(",")) == 3
    assert len(cluster["KAFKA_BOOTSTRAP_SERVERS"].split(",")) == 3
