"""Command line: ``python -m services.cluster {start,stop,status}`` for the whole
cluster, ``{start,stop,kill} NAME`` for one process (``cassandra-2``, ``web-1``, ...)."""

from __future__ import annotations

import argparse
import sys

from services.localstack.errors import StackError

from .cluster import Cluster


def _progress(message: str) -> None:
    print(f"[cluster] {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.cluster")
    parser.add_argument("action", choices=["start", "stop", "status", "kill"])
    parser.add_argument("names", nargs="*", help="processes (default: all)")
    args = parser.parse_args(argv)
    try:
        cluster = Cluster()
        unknown = [name for name in args.names if name not in cluster.processes]
        if unknown:
            names = ", ".join(cluster.processes)
            parser.error(f"unknown process {unknown[0]!r}; choose from {names}")
        if args.action == "start" and not args.names:
            timings = cluster.start(_progress)
            steps = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in timings.items())
            _progress(f"cluster ready: {steps}; RSS {cluster.rss_bytes() / 2**30:.2f} GiB")
        elif args.action == "stop" and not args.names:
            cluster.stop(_progress)
        elif args.action == "status":
            for name, state in cluster.status().items():
                if not args.names or name in args.names:
                    print(f"{name}: {state}")
            print(f"RSS: {cluster.rss_bytes() / 2**30:.2f} GiB")
        else:
            if not args.names:
                parser.error(f"{args.action} needs process names")
            for name in args.names:
                if args.action == "start":
                    cluster.start_one(name, _progress)
                elif args.action == "stop":
                    cluster.stop_one(name, _progress)
                else:
                    _progress(f"{name}: SIGKILL (pid {cluster.kill(name)})")
    except StackError as exc:
        print(f"[cluster] error: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
