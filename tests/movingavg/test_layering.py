"""The layering of ``movingavg``: the engines are a leaf package without Django, and the
package re-exports them; the Django app (apps, models, admin, charts) sits on top."""

from __future__ import annotations

import ast
import doctest
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import movingavg
import movingavg.engines

REPO_ROOT = Path(__file__).resolve().parents[2]
ENGINES_DIR = Path(movingavg.engines.__file__).parent
ENGINE_MODULES = sorted(
    f"movingavg.engines.{info.name}" for info in pkgutil.iter_modules([str(ENGINES_DIR)])
)


def imported_roots(path: Path) -> set[str]:
    """The modules ``path`` imports, anywhere in the file (function-level imports too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            names.add(node.module or "")
    return names


def test_importing_the_engines_loads_no_django() -> None:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    code = (
        "import importlib, sys\n"
        f"for name in ['movingavg.engines', *{ENGINE_MODULES!r}]:\n"
        "    importlib.import_module(name)\n"
        "print(any(m == 'django' or m.startswith('django.') for m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_engines_import_only_the_standard_library_numpy_and_each_other() -> None:
    assert "movingavg.engines.factory" in ENGINE_MODULES
    allowed = set(sys.stdlib_module_names) | {"numpy"}
    for path in sorted(ENGINES_DIR.glob("*.py")):
        for name in imported_roots(path):
            inside = name == "movingavg.engines" or name.startswith("movingavg.engines.")
            assert inside or name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_the_package_re_exports_the_engines() -> None:
    assert movingavg.__all__ == movingavg.engines.__all__
    for name in movingavg.engines.__all__:
        assert getattr(movingavg, name) is getattr(movingavg.engines, name)
    assert {"create_moving_average", "KINDS"} <= set(movingavg.engines.__all__)


def test_engines_docstring_example() -> None:
    results = doctest.testmod(movingavg.engines)
    assert results.attempted > 0
    assert results.failed == 0
