"""Redis from Debian's package, append-only persistence, bound to 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable

from .errors import StackError
from .service import LocalService


class RedisService(LocalService):
    name = "redis"

    def ports(self) -> dict[str, int]:
        return {"REDIS_PORT": self.config.redis_port}

    def prepare(self, progress: Callable[[str], None]) -> list[str]:
        binary = shutil.which("redis-server")
        if not binary:
            raise StackError(
                "redis-server not found; run `make install` (apt-get install redis-server)"
            )
        data = self.config.data_dir / "redis"
        data.mkdir(parents=True, exist_ok=True)
        return [
            binary,
            "--bind",
            self.config.host,
            "--port",
            str(self.config.redis_port),
            "--dir",
            str(data),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
        ]

    def probe(self) -> bool:
        try:
            with socket.create_connection(
                (self.config.host, self.config.redis_port), timeout=1
            ) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False
