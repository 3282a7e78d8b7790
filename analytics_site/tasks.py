"""Project-level diagnostic tasks."""

from __future__ import annotations

import os
import socket

from celery import shared_task


@shared_task(name="analytics_site.ping", time_limit=30, soft_time_limit=20)
def ping(token: str) -> dict[str, object]:
    """Echo ``token`` with the worker's host and pid, proving a real worker ran it."""
    return {"token": token, "pid": os.getpid(), "hostname": socket.gethostname()}
