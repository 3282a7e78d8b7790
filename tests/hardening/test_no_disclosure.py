"""Nothing secret at the edges (issue 12, part 5): the unauthenticated health endpoint
names components and status but never exception text, and outside production mode
the secret key is generated once per install, never a public default."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from analytics_site.secret_key import install_secret_key

REPO_ROOT = Path(__file__).resolve().parents[2]
OLD_PUBLIC_DEFAULT = "dev-only-insecure-secret-key-change-me"


@pytest.mark.integration
@pytest.mark.django_db(databases=["default", "cassandra"])
def test_health_names_the_component_but_not_the_exception(settings, caplog) -> None:
    """A real failing check (Redis at a closed loopback port, a password in its URL):
    the answer says redis is down, and nothing of the exception; the log has it."""
    settings.CELERY_BROKER_URL = "redis://:hunter2-secret@127.0.0.1:1/0"
    with caplog.at_level(logging.WARNING, logger="analytics_site.health"):
        response = APIClient().get("/api/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["redis"]
    assert body["components"]["redis"]["status"] == "down"
    text = response.content.decode()
    for leak in ("127.0.0.1", "Connection refused", "Error", "hunter2"):
        assert leak not in text, (leak, text)
    logged = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    assert "health check redis failed" in logged
    assert "Connection refused" in logged or "ConnectionError" in logged


def test_install_secret_key_creates_a_private_file_once(tmp_path) -> None:
    path = tmp_path / "var" / "secret_key"
    first = install_secret_key(path)
    assert len(first) >= 50
    assert first != OLD_PUBLIC_DEFAULT
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert install_secret_key(path) == first
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    other = install_secret_key(tmp_path / "elsewhere" / "secret_key")
    assert other != first  # a key per install, not a shared one


def test_concurrent_first_starts_agree_on_one_key(tmp_path) -> None:
    path = tmp_path / "secret_key"
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = set(pool.map(lambda _: install_secret_key(path), range(32)))
    assert keys == {path.read_text().strip()}


def _settings_secret(home: Path, **env: str) -> str:
    """SECRET_KEY as a fresh process sees it, with STACK_HOME=home."""
    clean = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SECRET_KEY", "DJANGO_SECURE")}
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.SECRET_KEY)"],
        cwd=REPO_ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "analytics_site.settings",
            "STACK_HOME": str(home),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_settings_generate_the_key_into_the_data_dir(tmp_path) -> None:
    home = tmp_path / "stack"
    key = _settings_secret(home)
    stored = home / "secret_key"
    assert key == stored.read_text().strip()
    assert key != OLD_PUBLIC_DEFAULT
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert _settings_secret(home) == key  # the same key on every start
    assert _settings_secret(home, DJANGO_SECRET_KEY="from-the-environment") == (
        "from-the-environment"
    )
