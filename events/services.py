"""Write-side operations: projects and keys, and the ingestion of a request's events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.db import transaction
from redis.exceptions import RedisError

from . import stream, suppression
from .envelope import Envelope, RequestEventIds
from .errors import AddressLockedOut, EventsTooLarge, NoValidEvents, RateLimitExceeded
from .ingest import IngestResult, append, normalize_each
from .keys import generate_key, hash_key
from .limits import Limits
from .models import ApiKey, Project
from .throttling import failure_keys, ingest_rate_window, lockout, rate_limit_message


@transaction.atomic
def create_project_with_keys(*, name: str) -> tuple[Project, dict[str, str]]:
    """Create a project with one key of each kind; return it and the plaintext keys.

    The plaintext keys are returned only here: the database keeps their hashes.
    """
    if not name.strip():
        raise ValueError("name: must not be blank")
    project = Project.objects.create(name=name.strip())
    plaintext: dict[str, str] = {}
    for kind in (ApiKey.Kind.WRITE, ApiKey.Kind.READ, ApiKey.Kind.MASTER):
        key = generate_key(kind)
        ApiKey.objects.create(project=project, kind=kind, prefix=key[:10], key_hash=hash_key(key))
        plaintext[kind] = key
    return project, plaintext


class Normalizer(Protocol):
    """A front door's normalizer with its door arguments bound (``functools.partial``
    of ``events.normalize.normalize_*``): the request's arguments are filled in here."""

    def __call__(
        self,
        raw: object,
        *,
        project_id: str,
        received_at: datetime,
        index: int | None,
        limits: Limits,
        new_id: Callable[[], str],
    ) -> Envelope: ...


@dataclass(frozen=True)
class EventGroup:
    """Raw events read by one normalizer: a request's events, or one Keen collection's."""

    normalize: Normalizer
    items: Sequence[object]


def events_ingest(
    *,
    key: ApiKey,
    address: str,
    groups: Sequence[EventGroup],
    indexed: bool,
    received_at: datetime,
    limits: Limits,
    request_id: str | None,
    refuse_if_none_valid: bool = True,
) -> list[IngestResult]:
    """Normalize every group's events, keep the valid ones and append them durably;
    one result per group, in order. ``indexed`` (a batch) numbers each group's events
    from 0 in their errors; missing event ids are drawn from ``request_id``
    (:class:`~events.envelope.RequestEventIds`) across all groups.

    Raises, with nothing of the request taken: ``EventsTooLarge`` for a batch of more
    than ``limits.max_batch_events``, events past ``limits.max_request_stored_bytes``
    as stored, or (after the append) every event too large; ``AddressLockedOut`` and
    ``RateLimitExceeded`` past the failed-authentication lockout of ``address`` or the
    key's ``INGEST_RATE_LIMIT``; ``NoValidEvents`` when no event was valid and
    ``refuse_if_none_valid`` (Keen's batch reports each event instead). A locked-out
    address gets ``AddressLockedOut`` rather than any other refusal, so it never
    learns that its key is valid. A suppressed user's events are refused like invalid
    ones, each with its error (:mod:`events.suppression`).
    """
    size = sum(len(group.items) for group in groups)
    if indexed and size > limits.max_batch_events:
        _refuse_if_locked_out(address)
        raise EventsTooLarge(
            f"batch: {size} events exceed the limit of {limits.max_batch_events} per batch"
        )
    ids = RequestEventIds(key.project_id, request_id)
    results = [
        _normalize(group, key=key, ids=ids, received_at=received_at, limits=limits, indexed=indexed)
        for group in groups
    ]
    suppression.drop_suppressed(results, project_id=str(key.project_id))
    combined = IngestResult()
    for result in results:
        combined.merge(result)
    if combined.stored_bytes > limits.max_request_stored_bytes:
        _refuse_if_locked_out(address)
        raise EventsTooLarge(
            f"the request's {len(combined.accepted)} events are {combined.stored_bytes} bytes "
            f"as stored (with the batch context merged into each), exceeding the limit of "
            f"{limits.max_request_stored_bytes} bytes per request; send smaller batches"
        )
    _append(combined, key=key, address=address)
    if refuse_if_none_valid and combined.errors and not combined.accepted:
        if all(combined.too_large):
            raise EventsTooLarge("; ".join(error.message for error in combined.errors))
        raise NoValidEvents(combined.rejected)
    return results


def _normalize(
    group: EventGroup,
    *,
    key: ApiKey,
    ids: RequestEventIds,
    received_at: datetime,
    limits: Limits,
    indexed: bool,
) -> IngestResult:
    return normalize_each(
        group.items,
        lambda raw, index: group.normalize(
            raw,
            project_id=key.project_id,
            received_at=received_at,
            index=index,
            limits=limits,
            new_id=ids.next,
        ),
        indexed=indexed,
        limits=limits,
    )


def _append(result: IngestResult, *, key: ApiKey, address: str) -> None:
    """:func:`events.ingest.append` with the key's rate counter and the address's
    lockout checked in the same round trip; their refusals as domain errors."""
    counter, wait = ingest_rate_window(key)
    lockout_key, _ = failure_keys(address)
    try:
        append(result, rate_key=counter, lockout_key=lockout_key)
    except stream.LockedOut:
        locked = lockout(address)
        if locked is None:  # the window ended since the script ran
            locked = (1.0, "too many failed authentications from this address; retry in 1s")
        raise AddressLockedOut(locked[1], wait=locked[0]) from None
    except stream.RateLimited:
        raise RateLimitExceeded(rate_limit_message("INGEST_RATE_LIMIT", wait), wait=wait) from None


def _refuse_if_locked_out(address: str) -> None:
    """AddressLockedOut when ``address`` is locked out; an unreachable Redis lets the
    caller's own refusal stand."""
    try:
        locked = lockout(address)
    except RedisError:
        return
    if locked is not None:
        raise AddressLockedOut(locked[1], wait=locked[0])
