"""Sending a task to the engine's queue (``AGGREGATION_QUEUE``) from a request or a job."""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.conf import settings

logger = logging.getLogger(__name__)


def send(task: str, *args: Any, unsent: str, **kwargs: Any) -> None:
    """Queue the task named ``task`` once, without the broker client's retries. A broker
    that cannot take it now is logged with ``unsent`` (what happens instead: the next
    scheduled run, a resume), never raised: the request that asked has been recorded."""
    try:
        current_app.send_task(
            task, args=args, kwargs=kwargs, queue=settings.AGGREGATION_QUEUE, retry=False
        )
    except Exception:
        logger.exception("could not queue %s%s: %s", task, args, unsent)
