"""The native API's event: ``POST /api/v1/events``.

Fields (null counts as absent; any other top-level field is an error):

==============  =========  ===============================================================
field           required   rule
==============  =========  ===============================================================
``name``        yes        non-empty string, at most ``max_name_length`` characters
``event_id``    no         non-empty string, at most ``max_event_id_length``; else a UUIDv7
``category``    no         one of CATEGORIES; else inferred from ``context``
``distinct_id`` no         non-empty string, at most ``max_distinct_id_length``
``timestamp``   no         ISO-8601 string or epoch seconds/ms; else ``received_at``
``properties``  no         object, bounded by the property limits
``context``     no         object, bounded by the property limits
==============  =========  ===============================================================
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from events.envelope import Envelope, new_event_id, to_utc_ms
from events.limits import Limits
from spark.schema import CATEGORIES

from .category import infer_category
from .common import (
    EVENT,
    Problems,
    check_paths,
    check_tree,
    event_object,
    optional_object,
    optional_string,
)
from .timestamps import check_time, parse_time

NATIVE_FIELDS = (
    "name",
    "event_id",
    "category",
    "distinct_id",
    "timestamp",
    "properties",
    "context",
)


def normalize_native(
    raw: object,
    *,
    project_id: str,
    received_at: datetime,
    index: int | None = None,
    limits: Limits,
    new_id: Callable[[], str] = new_event_id,
) -> Envelope:
    """The envelope for one native event, or EventValidationError listing every problem.

    ``index`` is the event's position in a batch (None for a single event); it is copied
    into each error. ``received_at`` must be timezone-aware.
    """
    received_at = to_utc_ms(received_at)
    problems = Problems(index)
    event = event_object(raw, limits=limits, problems=problems)

    for key in event:
        if key not in NATIVE_FIELDS:
            problems.add(  # an empty key is named as the event's
                str(key) or EVENT, f"unknown field; expected one of {', '.join(NATIVE_FIELDS)}"
            )

    name = None
    if event.get("name") is None:
        problems.add("name", "is required")
    else:
        name = optional_string(event, "name", max_length=limits.max_name_length, problems=problems)
    event_id = optional_string(
        event, "event_id", max_length=limits.max_event_id_length, problems=problems
    )
    distinct_id = optional_string(
        event, "distinct_id", max_length=limits.max_distinct_id_length, problems=problems
    )

    category = event.get("category")
    if category is not None and category not in CATEGORIES:
        problems.add("category", f"must be one of {', '.join(CATEGORIES)}")

    timestamp = received_at
    if event.get("timestamp") is not None:
        parsed = parse_time(event["timestamp"], field="timestamp", problems=problems)
        if parsed is not None and check_time(
            parsed, field="timestamp", received_at=received_at, limits=limits, problems=problems
        ):
            timestamp = parsed

    properties = optional_object(event, "properties", problems=problems)
    context = optional_object(event, "context", problems=problems)
    check_tree(properties, path="properties", limits=limits, problems=problems)
    check_paths(properties, path="properties", problems=problems)
    check_tree(context, path="context", limits=limits, problems=problems)

    problems.raise_if_any()
    return Envelope(
        event_id=event_id or new_id(),
        project_id=project_id,
        name=name or "",
        category=category or infer_category(context),
        distinct_id=distinct_id,
        timestamp=timestamp,
        received_at=received_at,
        properties=properties,
        context=context,
        source="native",
    )
