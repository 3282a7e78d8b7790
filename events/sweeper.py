"""A worker bootstep that sweeps the forwarding ledger for lost batches on a timer."""

from __future__ import annotations

import logging

from celery import bootsteps

logger = logging.getLogger(__name__)


def sweep_ledger() -> None:
    """Republish the batches the ledger finds lost; log how many, never raise."""
    from django.conf import settings
    from redis.exceptions import RedisError

    from .ledger import get_ledger
    from .tasks import republish

    interval = settings.EVENTS_LEDGER_SWEEP_SECONDS
    stale_after = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] + interval
    try:
        republished = get_ledger().sweep(republish, grace=interval, stale_after=stale_after)
    except RedisError as exc:
        logger.warning("ledger sweep skipped: %s", exc)
        return
    if republished:
        logger.warning("ledger sweep republished %d lost batch(es)", len(republished))


class LedgerSweeper(bootsteps.StartStopStep):
    """Every ``EVENTS_LEDGER_SWEEP_SECONDS``, run :func:`sweep_ledger` in this worker."""

    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker, **kwargs) -> None:
        super().__init__(worker, **kwargs)
        self.timer_entry = None

    def start(self, worker) -> None:
        from django.conf import settings

        self.timer_entry = worker.timer.call_repeatedly(
            settings.EVENTS_LEDGER_SWEEP_SECONDS, sweep_ledger
        )

    def stop(self, worker) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
