"""Install what the stack needs: Maven jars per group and Debian packages (idempotent)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from .config import REPO_ROOT, StackConfig
from .errors import StackError
from .java import java_major_version

JAR_GROUPS = ("kafka", "cassandra", "spark")
POM_DIR = REPO_ROOT / "services" / "maven"


def _pom_digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def install_jars(config: StackConfig, progress: Callable[[str], None]) -> None:
    """Fetch each group's jars with ``mvn dependency:copy-dependencies`` unless current."""
    for group in JAR_GROUPS:
        pom = POM_DIR / group / "pom.xml"
        target = config.jars_dir / group
        marker = target / ".complete"
        digest = _pom_digest(pom)
        if marker.exists() and marker.read_text().strip() == digest:
            progress(f"jars/{group}: up to date")
            continue
        mvn = shutil.which("mvn")
        if not mvn:
            _apt_install(["maven"], progress)
            mvn = shutil.which("mvn") or "mvn"
        progress(f"jars/{group}: downloading from Maven Central (first run only)...")
        staging = config.jars_dir / f".{group}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        command = [
            mvn,
            "--batch-mode",
            "--no-transfer-progress",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join(result.stdout.splitlines()[-20:])
            raise StackError(f"fetching the {group} jars failed: {' '.join(command)}\n{tail}")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        marker.write_text(digest + "\n")
        count = len(list(target.glob("*.jar")))
        progress(f"jars/{group}: {count} jars installed in {target}")


def _apt_install(packages: list[str], progress: Callable[[str], None]) -> None:
    if os.geteuid() != 0:
        raise StackError(
            f"missing Debian packages {', '.join(packages)}: run "
            f"`sudo apt-get install -y {' '.join(packages)}`"
        )
    progress(f"apt: installing {', '.join(packages)} ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", *packages],
    ):
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            raise StackError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")


DEBIAN_JDK17 = Path("/usr/lib/jvm/java-17-openjdk-amd64/bin/java")


def _has_jdk17(config: StackConfig) -> bool:
    """True if JAVA_HOME (else java on PATH) is a Java 17, or Debian's JDK 17 exists."""
    if DEBIAN_JDK17.exists():
        return True
    java = (
        str(Path(config.java_home) / "bin" / "java") if config.java_home else shutil.which("java")
    )
    return java is not None and Path(java).exists() and java_major_version(java) == 17


def nginx_binary() -> str | None:
    """Debian's nginx (in /usr/sbin, which a non-root PATH may lack), or None."""
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx",) if Path(path).exists()), None
    )


def install_system_packages(config: StackConfig, progress: Callable[[str], None]) -> None:
    """Install redis-server, a JDK 17, Maven, Chromium with its driver (for the admin's
    headless-browser test) and nginx (the load balancer of the multi-instance test)
    from Debian when they are missing."""
    missing = []
    if not shutil.which("redis-server"):
        missing.append("redis-server")
    if not _has_jdk17(config):
        missing.append("openjdk-17-jdk-headless")
    if shutil.which("mvn") is None:
        missing.append("maven")
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        missing += ["chromium", "chromium-driver"]
    if nginx_binary() is None:
        missing.append("nginx-light")
    if missing:
        _apt_install(missing, progress)
    else:
        progress("apt: redis-server, JDK 17, Maven, Chromium and nginx present")


# The Compose Specification's JSON schema, as vendored by compose-go (the reference
# implementation docker compose uses), from the Go module proxy; pinned by digest.
COMPOSE_GO_ZIP = (
    "https://proxy.golang.org/github.com/compose-spec/compose-go/v2/@v/v2.16.2.zip",
    "75410c9723430b920592093014fc53641f6207e01b52c016c848ba62bf2da805",
)
COMPOSE_SCHEMA_MEMBER = "github.com/compose-spec/compose-go/v2@v2.16.2/schema/compose-spec.json"


def compose_schema_path(config: StackConfig) -> Path:
    return config.home / "schemas" / "compose-spec.json"


def install_compose_schema(config: StackConfig, progress: Callable[[str], None]) -> None:
    """Fetch the Compose Specification schema (for validating docker/compose.yaml)."""
    target = compose_schema_path(config)
    if target.exists():
        return
    url, digest = COMPOSE_GO_ZIP
    progress(f"compose schema: fetching {url} ...")
    with urllib.request.urlopen(url, timeout=120) as response:
        payload = response.read()
    if hashlib.sha256(payload).hexdigest() != digest:
        raise StackError(f"{url}: sha256 differs from the pinned {digest}")
    archive = config.home / "schemas" / "compose-go.zip"
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(payload)
    with zipfile.ZipFile(archive) as bundle:
        target.write_bytes(bundle.read(COMPOSE_SCHEMA_MEMBER))
    archive.unlink()


def install_all(config: StackConfig, progress: Callable[[str], None]) -> None:
    """Everything the services need, idempotently."""
    config.home.mkdir(parents=True, exist_ok=True)
    install_system_packages(config, progress)
    install_jars(config, progress)
    install_compose_schema(config, progress)
