"""Segment HTTP Tracking API messages: ``/v1/track``, ``identify``, ``page``, ``screen``,
``group``, ``alias`` and the items of ``/v1/batch``.

Mapping (null counts as absent; unknown fields such as ``writeKey``, ``integrations``,
``version``, ``_metadata`` or ``channel`` are ignored, as Segment does):

- type: ``call_type`` from the endpoint; for batch items (``call_type=None``) the item's
  required ``type``.
- required: ``userId`` or ``anonymousId`` always; ``event`` for track; ``groupId`` for
  group; ``userId`` and ``previousId`` for alias. Ids may be strings or integers
  (integers are stringified); an empty string counts as absent.
- name: ``event`` for track, else the type name.
- event_id: ``messageId`` when given, else a new UUIDv7.
- distinct_id: ``userId``, else ``anonymousId``.
- properties: ``properties`` (track, page, screen) or ``traits`` (identify, group), plus
  ``groupId`` (group), ``previousId`` (alias), ``name`` and ``category`` (page, screen)
  when present; those top-level fields win over same-named keys. An identify without
  top-level ``traits`` takes ``context.traits`` (as RudderStack's SDK sends them).
- context: the batch's ``context`` overlaid by the message's ``context`` (message keys
  win), plus ``userId``/``anonymousId`` when present, so queries can see them.
- timestamp: ``t`` = ``timestamp``, else ``originalTimestamp``; ``sentAt`` from the
  message, else from the batch. With ``t`` and ``sentAt``:
  ``received_at - (sentAt - t)`` (Segment's clock-skew correction); ``t`` alone is used
  as is; without ``t``, ``received_at``. The result must pass the timestamp bounds (a
  correction beyond the calendar, ``t`` and ``sentAt`` at its opposite ends, is an
  error on ``t``'s field, rejecting that message only).
- category: inferred from the context (see ``category``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from events.envelope import Envelope, new_event_id, to_utc_ms
from events.limits import Limits

from .category import infer_category
from .common import (
    Problems,
    check_paths,
    check_tree,
    checked_string,
    event_object,
    optional_object,
    optional_string,
)
from .timestamps import check_time, parse_time

SEGMENT_CALL_TYPES = ("track", "identify", "page", "screen", "group", "alias")
_PROPERTIES_FIELD = {
    "track": "properties",
    "page": "properties",
    "screen": "properties",
    "identify": "traits",
    "group": "traits",
}
_EXTRA_FIELDS = {
    "group": ("groupId",),
    "alias": ("previousId",),
    "page": ("name", "category"),
    "screen": ("name", "category"),
}


def normalize_segment(
    raw: object,
    *,
    call_type: str | None,
    project_id: str,
    received_at: datetime,
    index: int | None = None,
    limits: Limits,
    new_id: Callable[[], str] = new_event_id,
    batch: Mapping[str, Any] | None = None,
) -> Envelope:
    """The envelope for one Segment message, or EventValidationError listing every problem.

    ``call_type`` is the endpoint's type, or None for a ``/v1/batch`` item. ``batch`` is
    the enclosing ``/v1/batch`` body, if any: its ``sentAt`` and ``context`` apply to
    every item (the Python SDK sends ``sentAt`` only there). ``received_at`` must be
    timezone-aware. An unknown ``call_type`` is a programming error (ValueError).
    """
    if call_type is not None and call_type not in SEGMENT_CALL_TYPES:
        raise ValueError(f"call_type must be one of {', '.join(SEGMENT_CALL_TYPES)} or None")
    received_at = to_utc_ms(received_at)
    batch = batch or {}
    problems = Problems(index)
    message = event_object(raw, limits=limits, problems=problems)

    kind = call_type or _message_type(message, problems)

    user_id = _segment_id(message, "userId", limits=limits, problems=problems)
    anonymous_id = _segment_id(message, "anonymousId", limits=limits, problems=problems)
    no_id = not _given(message, "userId", "anonymousId")
    if no_id and kind != "alias":  # alias reports its own required userId below
        problems.add("userId", "userId or anonymousId is required")

    name = kind
    if kind == "track":
        if _given(message, "event"):
            name = optional_string(
                message, "event", max_length=limits.max_name_length, problems=problems
            )
        else:
            problems.add("event", "is required for track")
    required = {"group": ("groupId",), "alias": ("userId", "previousId")}.get(kind or "", ())
    for key in required:
        if not _given(message, key):
            problems.add(key, f"is required for {kind}")

    event_id = optional_string(
        message, "messageId", max_length=limits.max_event_id_length, problems=problems
    )
    properties = _properties(message, kind, batch, limits=limits, problems=problems)
    context = _context(message, batch, limits=limits, problems=problems)
    timestamp = _timestamp(message, batch, received_at, limits=limits, problems=problems)

    problems.raise_if_any()
    if user_id is not None:
        context["userId"] = user_id
    if anonymous_id is not None:
        context["anonymousId"] = anonymous_id
    return Envelope(
        event_id=event_id or new_id(),
        project_id=project_id,
        name=name or "",
        category=infer_category(context),
        distinct_id=user_id if user_id is not None else anonymous_id,
        timestamp=timestamp,
        received_at=received_at,
        properties=properties,
        context=context,
        source="segment",
    )


def _given(message: Mapping[str, Any], *keys: str) -> bool:
    """True if any of ``keys`` holds something other than null or ``""``."""
    return any(message.get(key) not in (None, "") for key in keys)


def _message_type(message: Mapping[str, Any], problems: Problems) -> str | None:
    kind = message.get("type")
    if kind is None:
        problems.add("type", "is required in a batch item")
        return None
    if kind not in SEGMENT_CALL_TYPES:
        problems.add("type", f"must be one of {', '.join(SEGMENT_CALL_TYPES)}")
        return None
    return kind


def _segment_id(
    message: Mapping[str, Any], key: str, *, limits: Limits, problems: Problems
) -> str | None:
    """A Segment id field: a string, or an integer stringified; ``""`` counts as absent."""
    value = message.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return checked_string(
        value, field=key, max_length=limits.max_distinct_id_length, problems=problems
    )


def _properties(
    message: Mapping[str, Any],
    kind: str | None,
    batch: Mapping[str, Any],
    *,
    limits: Limits,
    problems: Problems,
) -> dict[str, Any]:
    source = _PROPERTIES_FIELD.get(kind or "")
    properties: dict[str, Any] = {}
    if source is not None:
        properties = dict(optional_object(message, source, problems=problems))
        path = source
        if kind == "identify" and message.get("traits") is None:
            # Bounded with the rest of the context (``_context``): checked once there.
            properties, path = dict(_context_traits(message, batch)), "context.traits"
        else:
            check_tree(properties, path=path, limits=limits, problems=problems)
        check_paths(properties, path=path, problems=problems)
    for key in _EXTRA_FIELDS.get(kind or "", ()):
        value = message.get(key)
        if value is None:
            continue
        if key in ("groupId", "previousId"):
            value = _segment_id(message, key, limits=limits, problems=problems)
        elif not isinstance(value, str):
            problems.add(key, "must be a string")
            continue
        if value is not None:
            properties[key] = value
    return properties


def _context_traits(message: Mapping[str, Any], batch: Mapping[str, Any]) -> Mapping[str, Any]:
    """``traits`` of the message's context (over the batch's), where RudderStack's SDK
    sends identify traits; ``{}`` unless it is an object (a bad context is reported by
    ``_context``, and the value stays in the context as sent)."""
    contexts = (message.get("context"), batch.get("context"))
    for context in contexts:
        if isinstance(context, dict) and "traits" in context:
            traits = context["traits"]
            return traits if isinstance(traits, dict) else {}
    return {}


def _context(
    message: Mapping[str, Any],
    batch: Mapping[str, Any],
    *,
    limits: Limits,
    problems: Problems,
) -> dict[str, Any]:
    batch_context = optional_object(batch, "context", problems=problems, field="batch.context")
    own_context = optional_object(message, "context", problems=problems)
    context = {**batch_context, **own_context}
    check_tree(context, path="context", limits=limits, problems=problems)
    return context


def _timestamp(
    message: Mapping[str, Any],
    batch: Mapping[str, Any],
    received_at: datetime,
    *,
    limits: Limits,
    problems: Problems,
) -> datetime:
    field = next(
        (k for k in ("timestamp", "originalTimestamp") if message.get(k) is not None), None
    )
    if field is None:
        return received_at
    client_time = parse_time(message[field], field=field, problems=problems)
    sent_field, sent_value = "sentAt", message.get("sentAt")
    if sent_value is None:
        sent_field, sent_value = "batch.sentAt", batch.get("sentAt")
    sent_at = None
    if sent_value is not None:
        sent_at = parse_time(sent_value, field=sent_field, problems=problems)
    if client_time is None:
        return received_at
    if sent_at is not None:
        try:
            client_time = received_at - (sent_at - client_time)
        except OverflowError:  # the two at opposite ends of the calendar
            problems.add(
                field,
                f"with {sent_field}, the clock-skew correction received_at - ({sent_field}"
                f" - {field}) falls outside the years 1 to 9999",
            )
            return received_at
    if not check_time(
        client_time, field=field, received_at=received_at, limits=limits, problems=problems
    ):
        return received_at
    return client_time
