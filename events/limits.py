"""Ingestion limits: one frozen value object, overridable through ``settings.EVENT_LIMITS``.

Defaults follow Segment's HTTP Tracking API (32 KB per event, 500 KB per request):

====================================  ==========  ==============================================
field                                 default     meaning
====================================  ==========  ==============================================
``max_event_bytes``                   32768       one event, compact JSON, UTF-8 (413 beyond),
                                                  as sent and as stored (a Segment batch
                                                  ``context`` merged into each message)
``max_body_bytes``                    512000      one request body after decompression (413)
``max_request_stored_bytes``          8388608     all events of one request as stored (413,
                                                  nothing taken): bounds what a batch
                                                  ``context`` can multiply
``max_batch_events``                  2500        events in one batch request (413)
``max_property_depth``                8           nesting of ``properties``/``context``; the
                                                  object itself is depth 1, each nested
                                                  object or list adds one
``max_property_name_length``          255         characters in any key, at any depth
``max_properties``                    1000        keys at all depths, counted separately for
                                                  ``properties`` and for ``context``
``max_name_length``                   255         characters in an event name
``max_event_id_length``               128         characters in a client-given event id
``max_distinct_id_length``            255         characters in a distinct id
``max_future_skew_seconds``           3600        timestamps later than received_at + this
                                                  are rejected
``min_timestamp``                     2000-01-01  timestamps before this instant (UTC) are
                                                  rejected
====================================  ==========  ==============================================
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Every bound the ingestion layer enforces; see the module docstring for meanings."""

    max_event_bytes: int = 32 * 1024
    max_body_bytes: int = 500 * 1024
    max_request_stored_bytes: int = 8 * 1024 * 1024
    max_batch_events: int = 2500
    max_property_depth: int = 8
    max_property_name_length: int = 255
    max_properties: int = 1000
    max_name_length: int = 255
    max_event_id_length: int = 128
    max_distinct_id_length: int = 255
    max_future_skew_seconds: int = 3600
    min_timestamp: datetime = datetime(2000, 1, 1, tzinfo=UTC)


def limits_from_mapping(overrides: dict[str, Any] | None) -> Limits:
    """``Limits()`` with ``overrides`` applied; unknown keys raise ValueError.

    ``min_timestamp`` may be given as an ISO-8601 string; a naive value is taken as UTC.
    """
    overrides = dict(overrides or {})
    known = {field.name for field in dataclasses.fields(Limits)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"EVENT_LIMITS: unknown limit(s) {', '.join(unknown)}")
    if "min_timestamp" in overrides:
        value = overrides["min_timestamp"]
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        overrides["min_timestamp"] = value
    return Limits(**overrides)


_built: tuple[dict, Limits] | None = None  # (a copy of the mapping, its Limits)


def current_limits() -> Limits:
    """The limits configured in ``settings.EVENT_LIMITS`` (a dict; missing keys keep
    defaults). Built once per distinct mapping: a changed setting takes effect at once."""
    from django.conf import settings

    global _built
    mapping = getattr(settings, "EVENT_LIMITS", None) or {}
    if _built is None or _built[0] != mapping:
        _built = (dict(mapping), limits_from_mapping(mapping))
    return _built[1]
