"""Benchmark of the movingavg engines and batch helper; prints Markdown tables.

Run on demand (pytest does not collect it):

    .venv/bin/python -m tests.benchmarks.bench_movingavg

1. Per-element cost of each engine for n = 10 and n = 100000, against the pure-Python
   floor: a bare ``deque(maxlen=n)`` plus a running float sum (inexact, for reference).
   "add" feeds every element; "add+read" also reads the average after each one (the
   floor then divides its running sum by the length).
2. The batch helper against ``pandas.Series.rolling(n).mean()`` (and ``expanding().mean()``
   for the CMA) on 10**6 values.

Each timing is the best of several runs, engines and their baselines interleaved, so the
ratios hold even on a busy machine. Goals (issue 3): SMA add within 1.5x the floor and
flat in n; batch SMA within 1.5x pandas.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from collections import deque
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd

from movingavg.engines import (
    CumulativeMovingAverage,
    ExponentialMovingAverage,
    MovingAverageInterface,
    SimpleMovingAverage,
    WeightedMovingAverage,
    moving_average_series,
)
from tests.benchmarks.report import Figure, figures_argument, publish

WINDOWS = (10, 100_000)


def best_of(repeat: int, *runs: Callable[[], object]) -> list[float]:
    """Best time of each run over ``repeat`` interleaved rounds, in seconds."""
    best = [float("inf")] * len(runs)
    for _ in range(repeat):
        for index, run in enumerate(runs):
            start = time.perf_counter()
            run()
            best[index] = min(best[index], time.perf_counter() - start)
    return best


def floor_add(values: list[float], n: int) -> None:
    window: deque[float] = deque(maxlen=n)
    total = 0.0
    for value in values:
        if len(window) == n:
            total -= window[0]
        window.append(value)
        total += value


def floor_add_read(values: list[float], n: int) -> None:
    window: deque[float] = deque(maxlen=n)
    total = 0.0
    for value in values:
        if len(window) == n:
            total -= window[0]
        window.append(value)
        total += value
        total / len(window)


def engine_add(engine: MovingAverageInterface, values: list[float]) -> None:
    add = engine.addElement
    for value in values:
        add(value)
    engine.getMovingAverage()  # the deferred work of the lazy engines is part of the cost


def engine_add_read(engine: MovingAverageInterface, values: list[float]) -> None:
    add, read = engine.addElement, engine.getMovingAverage
    for value in values:
        add(value)
        read()


ENGINES: dict[str, Callable[[int], MovingAverageInterface]] = {
    "SimpleMovingAverage": SimpleMovingAverage,
    "WeightedMovingAverage": WeightedMovingAverage,
    "CumulativeMovingAverage": lambda n: CumulativeMovingAverage(),
    "ExponentialMovingAverage": ExponentialMovingAverage,
}


def engine_table(count: int, repeat: int) -> list[str]:
    rng = random.Random(1)
    values = [rng.uniform(-1e3, 1e3) for _ in range(count)]
    rows = [
        "| engine | n | add ns/elt | floor | ratio | add+read ns/elt | floor | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, make in ENGINES.items():
        for n in WINDOWS:
            add, floor = best_of(
                repeat,
                partial(_fresh, engine_add, make, n, values),
                partial(floor_add, values, n),
            )
            add_read, floor_read = best_of(
                repeat,
                partial(_fresh, engine_add_read, make, n, values),
                partial(floor_add_read, values, n),
            )
            ns = [1e9 * seconds / count for seconds in (add, floor, add_read, floor_read)]
            rows.append(
                f"| {name} | {n} | {ns[0]:.0f} | {ns[1]:.0f} | {ns[0] / ns[1]:.2f} "
                f"| {ns[2]:.0f} | {ns[3]:.0f} | {ns[2] / ns[3]:.2f} |"
            )
    return rows


def _fresh(
    run: Callable[[MovingAverageInterface, list[float]], None],
    make: Callable[[int], MovingAverageInterface],
    n: int,
    values: list[float],
) -> None:
    run(make(n), values)


def batch_table(size: int, repeat: int) -> list[str]:
    rng = np.random.default_rng(1)
    datasets = {
        "normal(100, 15)": rng.normal(100.0, 15.0, size),
        "exponential(1)": rng.exponential(1.0, size),
        "integers": rng.integers(0, 10_000, size).astype(np.float64),
    }
    rows = [
        f"| data ({size:,} values) | kind | n | batch helper ms | pandas ms | ratio |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for label, data in datasets.items():
        series = pd.Series(data)
        cases: list[tuple[str, int | None, Callable[[], object]]] = [
            ("sma", n, series.rolling(n).mean) for n in WINDOWS
        ]
        cases.append(("cma", None, series.expanding().mean))
        for kind, n, pandas_run in cases:
            ours, theirs = best_of(
                repeat, partial(moving_average_series, data, kind, n), pandas_run
            )
            rows.append(
                f"| {label} | {kind} | {n or '-'} | {1e3 * ours:.1f} | {1e3 * theirs:.1f} "
                f"| {ours / theirs:.2f} |"
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", type=int, default=300_000, help="values per engine run")
    parser.add_argument("--batch-size", type=int, default=1_000_000, help="batch series length")
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (best is kept)")
    figures_argument(parser)
    args = parser.parse_args()
    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}\n"
    )
    print(f"Engines, per element ({args.elements:,} elements, best of {args.repeat}):\n")
    print("\n".join(engine_table(args.elements, args.repeat)))
    print(f"\nBatch helper vs pandas (best of {args.repeat}):\n")
    print("\n".join(batch_table(args.batch_size, args.repeat)))
    publish(report_figures(args.elements, args.batch_size, args.repeat), args.figures_json)


def report_figures(count: int, size: int, repeat: int) -> list[Figure]:
    """The report's rows: each engine at n=24 against the plain-deque floor, and the
    batch SMA(24) against pandas."""
    rng = random.Random(2)
    values = [rng.uniform(-1e3, 1e3) for _ in range(count)]
    figures = []
    for name, make in ENGINES.items():
        ours, floor = best_of(
            repeat,
            partial(_fresh, engine_add_read, make, 24, values),
            partial(floor_add_read, values, 24),
        )
        figures.append(
            Figure(
                "moving averages",
                f"{name}(24), add + read per element",
                1e9 * ours / count,
                1e9 * floor / count,
                "bare deque and running sum, same loop",
                "ns",
            )
        )
    data = np.random.default_rng(2).normal(100.0, 15.0, size)
    series = pd.Series(data)
    ours, theirs = best_of(
        repeat,
        partial(moving_average_series, data, "sma", 24),
        series.rolling(24).mean,
    )
    figures.append(
        Figure(
            "moving averages",
            f"batch SMA(24) of {size:,} values",
            1e3 * ours,
            1e3 * theirs,
            "pandas rolling(24).mean()",
            "ms",
        )
    )
    return figures


if __name__ == "__main__":
    main()
