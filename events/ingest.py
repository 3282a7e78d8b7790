"""Ingestion's steps: normalize raw events, keep the valid ones, append them durably.

``events.services.events_ingest`` runs them in order and owns the limits between them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from . import stream
from .envelope import Envelope, EventError, EventValidationError
from .forwarding import encode_envelope
from .limits import Limits
from .normalize.common import EVENT, event_size
from .tasks import drain_stream

log = logging.getLogger(__name__)

ItemNormalizer = Callable[[object, int | None], Envelope]


@dataclass
class IngestResult:
    """What happened to each event of a request."""

    accepted: list[Envelope] = field(default_factory=list)
    encoded: list[stream.Encoded] = field(default_factory=list)  # one per ``accepted``
    indexes: list[int | None] = field(default_factory=list)  # each accepted event's batch index
    sizes: list[int] = field(default_factory=list)  # each accepted event's ``stored_size``
    errors: list[EventError] = field(default_factory=list)
    too_large: list[bool] = field(default_factory=list)
    stored_bytes: int = 0  # sum of ``stored_size`` over ``accepted``, measured once

    @property
    def rejected(self) -> list[dict]:
        return [error.as_dict() for error in self.errors]

    def merge(self, other: IngestResult) -> None:
        """Add ``other``'s events and errors to this result (a Keen multi-collection batch)."""
        self.accepted += other.accepted
        self.encoded += other.encoded
        self.indexes += other.indexes
        self.sizes += other.sizes
        self.errors += other.errors
        self.too_large += other.too_large
        self.stored_bytes += other.stored_bytes


def stored_size(envelope: Envelope) -> int:
    """Bytes of what the event stores of the client's data (name, distinct id,
    properties and context, a Segment batch's ``context`` merged in), compact UTF-8."""
    return event_size([envelope.name, envelope.distinct_id, envelope.properties, envelope.context])


def normalize_each(
    items: Sequence[object], normalize: ItemNormalizer, *, indexed: bool, limits: Limits
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
        try:
            encoded = encode_envelope(envelope)
        except (TypeError, ValueError, RecursionError) as exc:
            message = f"event cannot be encoded as JSON: {exc}"
            result.errors.append(EventError(index=index, field=EVENT, message=message))
            result.too_large.append(False)
            continue
        result.accepted.append(envelope)
        result.encoded.append(encoded)
        result.indexes.append(index)
        result.sizes.append(size)
        result.stored_bytes += size
    return result


def append(result: IngestResult, *, rate_key: str | None, lockout_key: str | None) -> None:
    """Check the client's lockout, count the request against its key's rate limit and
    append its valid events to the ingestion streams, in one Redis round trip; schedule
    the drains it must.

    Raises ``stream.LockedOut`` or ``stream.RateLimited`` (nothing taken) past those
    limits. Returns once Redis has the events on disk (AOF); an unreachable Redis
    raises (the API answers 503 with Retry-After) and nothing of the request is taken.
    A drain task that cannot be published is left to the beat safety net: the events
    are already safe.
    """
    limit, window = settings.INGEST_RATE_LIMIT
    triggered = stream.append(
        result.encoded,
        rate_key=rate_key,
        limit=limit,
        window=window,
        lockout_key=lockout_key,
        lockout_limit=settings.AUTH_FAILURE_RATE_LIMIT[0],
    )
    for key in triggered:
        try:
            drain_stream.apply_async(args=(key,), queue=settings.CELERY_TASK_DEFAULT_QUEUE)
        except (RedisError, KombuOperationalError, OSError) as exc:
            log.warning("drain of %s not scheduled (the safety net will): %s", key, exc)
