"""The 1,000,000-event aggregation on the Spark cluster against ``local[2]`` (on demand).

Needs ``make cluster`` running. Both runs are ``bench_aggregate`` with the aggregator's
cluster environment (3 Kafka brokers, the RF 3 Cassandra ring, LOCAL_QUORUM writes);
only ``SPARK_MASTER_URL`` differs: the standalone master with its 2 one-core workers,
or ``local[2]`` in the driver. Both use the same 2 cores of this machine, so the ratio
is the cost of the distributed path (executor processes, shuffles over the network,
task scheduling), not a speed-up.

Run: ``.venv/bin/python -m tests.benchmarks.bench_cluster_spark [N]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from services.cluster import topology
from services.cluster.apps import process_env
from tests.benchmarks.report import Figure, figures_argument, publish

REPO = Path(__file__).resolve().parents[2]


def aggregate_once(master: str, count: int) -> Figure:
    """One ``bench_aggregate`` run against the cluster's services with ``master``; its
    backlog figure (that benchmark checks every event was written before it reports)."""
    env = process_env(topology.default_layout(), "aggregator") | {"SPARK_MASTER_URL": master}
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.benchmarks.bench_aggregate",
                str(count),
                "--figures-json",
                out.name,
            ],
            cwd=REPO,
            env=env,
            check=True,
        )
        figures = [Figure(**item) for item in json.loads(Path(out.name).read_text())]
    return next(f for f in figures if f.measure.startswith("backlog"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=1_000_000, help="backlog size")
    figures_argument(parser)
    args = parser.parse_args()
    local = aggregate_once("local[2]", args.count)
    cluster = aggregate_once(topology.spark_master_url(), args.count)
    publish(
        [
            Figure(
                "cluster",
                f"backlog of {args.count:,} events, one run, Spark standalone (2 one-core workers)",
                cluster.ours,
                local.ours,
                "the same run with local[2] on the same cores and services",
                "s",
            )
        ],
        args.figures_json,
    )


if __name__ == "__main__":
    main()
