"""One benchmark report: every figure beside its baseline measured in the same run.

Each ``bench_*`` module measures ``Figure``s and prints them with :func:`render`; given
``--figures-json PATH`` it also writes them there. ``main`` (``make bench``) runs every
benchmark in its own process (each sets up its own topics, keyspace and database),
then prints one table and writes it to ``var/bench/report.md``.

Run: ``.venv/bin/python -m tests.benchmarks.report`` (needs `make services`)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REPORT = REPO / "var" / "bench" / "report.md"


@dataclass(frozen=True)
class Figure:
    """One measurement and its baseline, in the same unit, from the same run."""

    area: str
    measure: str
    ours: float
    baseline: float
    baseline_is: str
    unit: str
    goal: str = ""

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline else float("inf")


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def render(figures: list[Figure]) -> str:
    """A Markdown table: area, measure, ours, baseline, what the baseline is, ratio, goal."""
    lines = [
        "| area | measure | ours | baseline | baseline is | ratio | goal |",
        "|---|---|---:|---:|---|---:|---|",
    ]
    for f in figures:
        lines.append(
            f"| {f.area} | {f.measure} | {_number(f.ours)} {f.unit} | "
            f"{_number(f.baseline)} {f.unit} | {f.baseline_is} | {f.ratio:.2f} | {f.goal} |"
        )
    return "\n".join(lines)


def figures_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--figures-json", type=Path, help="also write the figures here")


def trickle_arguments(parser: argparse.ArgumentParser, *, seconds: float) -> None:
    """The optional positionals of a trickle benchmark: ``seconds`` it sends for (default
    ``seconds``) and ``rate`` in events per second (default 10)."""
    parser.add_argument("seconds", nargs="?", type=float, default=seconds)
    parser.add_argument("rate", nargs="?", type=float, default=10, help="events per second")


def publish(figures: list[Figure], path: Path | None) -> None:
    """Print the table; write the figures as JSON when a path is given."""
    print()
    print(render(figures))
    if path is not None:
        path.write_text(json.dumps([asdict(f) for f in figures]))


def machine() -> str:
    """CPU model, cores, memory, OS and Python: where the numbers were measured."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    return (
        f"{model}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


# (module, extra arguments): the order of the report.
BENCHMARKS = [
    ("tests.benchmarks.bench_ingest", []),
    ("tests.benchmarks.bench_freshness", ["60", "10"]),
    ("tests.benchmarks.bench_streaming", ["30", "10"]),
    ("tests.benchmarks.bench_aggregate", [os.environ.get("BENCH_AGGREGATE_EVENTS", "1000000")]),
    ("tests.benchmarks.bench_query", []),
    ("tests.benchmarks.bench_movingavg", ["--elements", "200000", "--batch-size", "500000"]),
]


def main() -> None:
    figures: list[Figure] = []
    failed: list[str] = []
    started = datetime.now(UTC)
    for module, args in BENCHMARKS:
        print(f"==> {module} {' '.join(args)}", flush=True)
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            result = subprocess.run(
                [sys.executable, "-m", module, *args, "--figures-json", out.name],
                cwd=REPO,
                check=False,
            )
            if result.returncode != 0:
                failed.append(module)
                continue
            figures += [Figure(**item) for item in json.loads(Path(out.name).read_text())]
    report = (
        f"Measured {started:%Y-%m-%d} on {machine()}; each ratio is ours / baseline "
        "from the same run.\n\n" + render(figures) + "\n"
    )
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(report)
    print("\n" + report)
    print(f"written to {REPORT.relative_to(REPO)}")
    if failed:
        sys.exit(f"benchmarks that failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
