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
from .limits import Limits
from .normalize.common import EVENT, event_size
from .tasks import forward_to_kafka

Normalizer = Callable[[object, int | None], Envelope]


@dataclass
class IngestResult:
    """What happened to each event of a request."""

    accepted: list[Envelope] = field(default_factory=list)
    errors: list[EventError] = field(default_factory=list)
    too_large: list[bool] = field(default_factory=list)
    stored_bytes: int = 0  # sum of ``stored_size`` over ``accepted``, measured once

    @property
    def rejected(self) -> list[dict]:
        return [error.as_dict() for error in self.errors]


def stored_size(envelope: Envelope) -> int:
    """Bytes of what the event stores of the client's data (name, distinct id,
    properties and context, a Segment batch's ``context`` merged in), compact UTF-8."""
    return event_size([envelope.name, envelope.distinct_id, envelope.properties, envelope.context])


def normalize_each(
    items: Sequence[object], normalize: Normalizer, *, indexed: bool, limits: Limits
) -> IngestResult:
    """Run ``normalize`` on every item; collect envelopes and per-event errors.

    ``limits.max_event_bytes`` holds on each event as stored, not only as sent: an
    event that grows past it once normalized (a Segment batch ``context`` merged
    into every message) is refused like an event sent too large.
    """
    result = IngestResult()
    for position, raw in enumerate(items):
        index = position if indexed else None
        try:
            envelope = normalize(raw, index)
        except EventValidationError as exc:
            result.errors.extend(exc.errors)
            result.too_large.append(exc.too_large)
            continue
        size = stored_size(envelope)
        if size > limits.max_event_bytes:
            message = (
                f"event is {size} bytes as stored (with the batch context merged in), "
                f"exceeding the limit of {limits.max_event_bytes} bytes"
            )
            result.errors.append(EventError(index=index, field=EVENT, message=message))
            result.too_large.append(True)
            continue
        result.accepted.append(envelope)
        result.stored_bytes += size
    return result


def raise_if_nothing_valid(result: IngestResult) -> None:
    """413 when every event was too large, 400 listing the errors when none was valid."""
    if result.accepted or not result.errors:
        return
    if all(result.too_large):
        raise PayloadTooLarge("; ".join(error.message for error in result.errors))
    raise InvalidEvents(result.rejected)


def enqueue(envelopes: Sequence[Envelope], *, limits: Limits, stored_bytes: int) -> None:
    """Record the request's batch in the ledger and publish one Celery message for it.

    413 (nothing taken) when the batch as stored exceeds
    ``limits.max_request_stored_bytes``. Returns once Redis holds both. If publishing
    fails, the batch is dropped from the ledger again and the error propagates (an
    unreachable Redis becomes a 503 with Retry-After in ``analytics_site.errors``):
    nothing of the request was accepted.
    """
    if not envelopes:
        return
    records = [envelope.to_record() for envelope in envelopes]
    stored = stored_bytes  # measured by normalize_each, not again here
    if stored > limits.max_request_stored_bytes:
        raise PayloadTooLarge(
            f"the request's {len(records)} events are {stored} bytes as stored (with the "
            f"batch context merged into each), exceeding the limit of "
            f"{limits.max_request_stored_bytes} bytes per request; send smaller batches"
        )
    batch_key = str(uuid.uuid4())
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    ledger = get_ledger()
    ledger.record(batch_key, queue, records)
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
