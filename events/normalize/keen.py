"""Keen IO write API events: ``/3.0/projects/{id}/events/{collection}`` and batches.

Mapping:

- name: the collection: non-empty ASCII, at most 64 characters, no ``.``, not starting
  with ``$`` (Keen's rules).
- event_id: ``keen.id`` when given (a non-empty string), else a new UUIDv7.
- timestamp: ``keen.timestamp`` (Keen's backfill), else ``received_at``; it must pass
  the timestamp bounds. Other ``keen.*`` keys are ignored.
- properties: the event without its ``keen`` object, bounded by the property limits (the
  event itself is depth 1; error fields are the Keen property paths, e.g. ``user.id``).
- context: always ``{}``.
- distinct_id: ``user.id``, else ``user_id``, else ``userId`` (the first non-empty string
  or integer within ``max_distinct_id_length``; they also stay in the properties).
- category: from the client's ``Keen-Sdk`` header (``python-0.7.0`` gives "server").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from events.envelope import Envelope, new_event_id, to_utc_ms
from events.limits import Limits

from .category import keen_sdk_category
from .common import Problems, check_paths, check_tree, event_object, optional_string
from .timestamps import check_time, parse_time

MAX_COLLECTION_LENGTH = 64


def _collection_problem(collection: object) -> str | None:
    if not isinstance(collection, str):
        return "must be a string"
    if not collection:
        return "must not be empty"
    if len(collection) > MAX_COLLECTION_LENGTH:
        return (
            f"is {len(collection)} characters long, exceeding the limit of {MAX_COLLECTION_LENGTH}"
        )
    if not collection.isascii():
        return "must contain only ASCII characters"
    if "." in collection or collection.startswith("$"):
        return "must not contain '.' or start with '$'"
    return None


def _distinct_id(event: dict[str, Any], *, max_length: int) -> str | None:
    """The first usable of ``user.id``, ``user_id``, ``userId``: a non-empty string or an
    integer (stringified) within ``max_length``; anything else is skipped (it stays a
    property either way)."""
    user = event.get("user")
    candidates = [user.get("id") if isinstance(user, dict) else None]
    candidates += [event.get("user_id"), event.get("userId")]
    for value in candidates:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and 0 < len(value) <= max_length:
            return value
    return None


def normalize_keen(
    raw: object,
    *,
    collection: str,
    project_id: str,
    received_at: datetime,
    index: int | None = None,
    limits: Limits,
    new_id: Callable[[], str] = new_event_id,
    sdk: str | None = None,
) -> Envelope:
    """The envelope for one Keen event, or EventValidationError listing every problem.

    ``sdk`` is the request's ``Keen-Sdk`` header, used only to infer the category.
    ``received_at`` must be timezone-aware.
    """
    received_at = to_utc_ms(received_at)
    problems = Problems(index)
    event = event_object(raw, limits=limits, problems=problems)
    problem = _collection_problem(collection)
    if problem:
        problems.add("collection", problem)

    keen = event.get("keen")
    if keen is None:
        keen = {}
    elif not isinstance(keen, dict):
        problems.add("keen", "must be a JSON object")
        keen = {}

    event_id = optional_string(
        keen, "id", max_length=limits.max_event_id_length, problems=problems, field="keen.id"
    )

    timestamp = received_at
    if keen.get("timestamp") is not None:
        parsed = parse_time(keen["timestamp"], field="keen.timestamp", problems=problems)
        if parsed is not None and check_time(
            parsed,
            field="keen.timestamp",
            received_at=received_at,
            limits=limits,
            problems=problems,
        ):
            timestamp = parsed

    properties = {key: value for key, value in event.items() if key != "keen"}
    check_tree(properties, path="", limits=limits, problems=problems)
    check_paths(properties, path="", problems=problems)

    problems.raise_if_any()
    return Envelope(
        event_id=event_id or new_id(),
        project_id=project_id,
        name=collection,
        category=keen_sdk_category(sdk),
        distinct_id=_distinct_id(properties, max_length=limits.max_distinct_id_length),
        timestamp=timestamp,
        received_at=received_at,
        properties=properties,
        context={},
        source="keen",
    )
