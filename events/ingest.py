"""The ingestion service: normalize raw events, keep the valid ones, enqueue them durably."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field

from django.conf import settings
from redis.exceptions import RedisError

from analytics_site.errors import InvalidEvents, PayloadTooLarge

from .envelope import Envelope, EventError, EventValidationError
from .ledger import get_ledger
from .tasks import forward_to_kafka

Normalizer = Callable[[object, int | None], Envelope]


@dataclass
class IngestResult:
    """What happened to each event of a request."""

    accepted: list[Envelope] = field(default_factory=list)
    errors: list[EventError] = field(default_factory=list)
    too_large: list[bool] = field(default_factory=list)

    @property
    def rejected(self) -> list[dict]:
        return [error.as_dict() for error in self.errors]


def normalize_each(
    items: Sequence[object], normalize: Normalizer, *, indexed: bool
) -> IngestResult:
    """Run ``normalize`` on every item; collect envelopes and per-event errors."""
    result = IngestResult()
    for position, raw in enumerate(items):
        index = position if indexed else None
        try:
            result.accepted.append(normalize(raw, index))
        except EventValidationError as exc:
            result.errors.extend(exc.errors)
            result.too_large.append(exc.too_large)
    return result


def raise_if_nothing_valid(result: IngestResult) -> None:
    """413 when every event was too large, 400 listing the errors when none was valid."""
    if result.accepted or not result.errors:
        return
    if all(result.too_large):
        raise PayloadTooLarge("; ".join(error.message for error in result.errors))
    raise InvalidEvents(result.rejected)


def enqueue(envelopes: Sequence[Envelope]) -> None:
    """Record the request's batch in the ledger and publish one Celery message for it.

    Returns once Redis holds both. If publishing fails, the batch is dropped from the
    ledger again and the error propagates (an unreachable Redis becomes a 503 with
    Retry-After in ``analytics_site.errors``): nothing of the request was accepted.
    """
    if not envelopes:
        return
    batch_key = str(uuid.uuid4())
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    ledger = get_ledger()
    ledger.record(batch_key, queue, [envelope.to_record() for envelope in envelopes])
    try:
        forward_to_kafka.apply_async(
            args=[batch_key],
            task_id=batch_key,
            queue=queue,
            retry=True,
            retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
        )
    except BaseException:
        with suppress(RedisError):
            ledger.finished(batch_key)
        raise
