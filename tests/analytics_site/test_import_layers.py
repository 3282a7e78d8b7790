"""The import layering of the project's packages, read from the source.

Layers, each importing only from those below it at module level:
``analytics_site`` (settings, URLs, the exception handler) > ``movingavg`` (its admin
pages) > ``insights`` > ``events`` > ``movingavg.engines`` and ``spark`` (no Django).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("analytics_site", "events", "insights", "movingavg", "spark")


def _modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts), path


def _imported(module: str, path: Path, *, module_level_only: bool) -> set[str]:
    """The absolute names ``module`` imports (relative imports resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    pending: list[ast.AST] = list(ast.parse(path.read_text()).body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if module_level_only and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = parts[: len(parts) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        pending.extend(ast.iter_child_nodes(node))
    return found


def _unit(name: str) -> str | None:
    """The layer unit a module belongs to: its package, or ``movingavg.engines``."""
    if name == "movingavg.engines" or name.startswith("movingavg.engines."):
        return "movingavg.engines"
    top = name.split(".")[0]
    return top if top in PACKAGES else None


def _unit_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in _modules():
        source = _unit(module)
        assert source is not None
        targets = {_unit(name) for name in _imported(module, path, module_level_only=True)}
        graph.setdefault(source, set()).update(t for t in targets if t and t != source)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a path of units, or None."""
    state: dict[str, str] = {}
    trail: list[str] = []

    def visit(unit: str) -> list[str] | None:
        state[unit] = "open"
        trail.append(unit)
        for target in sorted(graph.get(unit, ())):
            if state.get(target) == "open":
                return [*trail[trail.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        state[unit] = "done"
        trail.pop()
        return None

    for unit in sorted(graph):
        if unit not in state and (found := visit(unit)):
            return found
    return None


def test_the_packages_import_each_other_without_a_cycle_at_module_level() -> None:
    graph = _unit_graph()
    assert _cycle(graph) is None
    assert graph["events"] <= {"spark"}
    assert graph["movingavg.engines"] == set()


def test_events_imports_nothing_from_insights_anywhere() -> None:
    offending = {
        module: sorted(n for n in _imported(module, path, module_level_only=False) if _unit(n))
        for module, path in _modules()
        if module.startswith("events")
    }
    assert {
        m: names for m, names in offending.items() if any(n.startswith("insights") for n in names)
    } == {}


def test_spark_imports_no_django_and_no_other_package() -> None:
    for module, path in _modules():
        if not module.startswith("spark"):
            continue
        names = _imported(module, path, module_level_only=False)
        assert not {
            n for n in names if n == "django" or n.startswith(("django.", "rest_framework"))
        }, module
        assert {_unit(n) for n in names} <= {None, "spark"}, module


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
