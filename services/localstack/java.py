"""Find a Java runtime and check its major version before a JVM service starts."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from .errors import StackError

_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


def find_java(java_home: str | None) -> str:
    """Return the java executable: ``$JAVA_HOME/bin/java``, else ``java`` on PATH."""
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if not candidate.is_file():
            raise StackError(
                f"JAVA_HOME={java_home} has no bin/java; point JAVA_HOME at a JDK 17 "
                "(for example /usr/lib/jvm/java-17-openjdk-amd64)"
            )
        return str(candidate)
    found = shutil.which("java")
    if not found:
        raise StackError(
            "Java not found: install a JDK 17 (apt-get install openjdk-17-jdk-headless) "
            "or set JAVA_HOME"
        )
    return found


def java_major_version(java: str) -> int:
    """Run ``java -version`` and return the major version (8 for 1.8, 17 for 17.0.x)."""
    try:
        result = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        raise StackError(f"cannot run {java}: {exc}") from None
    match = _VERSION.search(result.stderr + result.stdout)
    if not match:
        raise StackError(f"cannot tell the version of {java}: {result.stderr.strip()!r}")
    major = int(match.group(1))
    if major == 1 and match.group(2):
        major = int(match.group(2))
    return major


def require_java(java_home: str | None, *, service: str, allowed: tuple[int, ...]) -> str:
    """Return a java executable whose major version is in ``allowed``, or raise."""
    java = find_java(java_home)
    major = java_major_version(java)
    if major not in allowed:
        wanted = " or ".join(str(v) for v in allowed)
        raise StackError(
            f"{service} needs Java {wanted}, but {java} is Java {major}; "
            "set JAVA_HOME to a JDK 17 (for example /usr/lib/jvm/java-17-openjdk-amd64)"
        )
    return java
