"""Command line: ``python -m services.localstack {install,start,stop,status} [service ...]``."""

from __future__ import annotations

import argparse
import sys
import time

from .cassandra_service import CassandraService
from .config import load_config
from .errors import StackError
from .install import install_all
from .kafka_service import KafkaService
from .redis_service import RedisService
from .service import LocalService

SERVICES: dict[str, type[LocalService]] = {
    "redis": RedisService,
    "kafka": KafkaService,
    "cassandra": CassandraService,
}


def _progress(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.localstack")
    parser.add_argument("action", choices=["install", "start", "stop", "status"])
    parser.add_argument("services", nargs="*", metavar="{" + ",".join(SERVICES) + "}")
    args = parser.parse_args(argv)
    unknown = [name for name in args.services if name not in SERVICES]
    if unknown:
        parser.error(f"unknown service {unknown[0]!r}; choose from {', '.join(SERVICES)}")
    try:
        config = load_config()
        names = args.services or list(SERVICES)
        services = [SERVICES[name](config) for name in names]
        if args.action == "install":
            install_all(config, _progress)
        elif args.action == "start":
            began = time.monotonic()
            for service in services:
                service.start(_progress)
            _progress(f"all started in {time.monotonic() - began:.1f}s: {', '.join(names)}")
        elif args.action == "stop":
            for service in reversed(services):
                service.stop(_progress)
        else:
            for service in services:
                print(f"{service.describe()}: {service.status()}")
    except StackError as exc:
        print(f"[stack] error: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
