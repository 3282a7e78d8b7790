"""The ingestion endpoints' parsers: the shared strict JSON reader with the ingestion body limit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from events.json_parsing import StrictJSONParser

from .limits import current_limits


class EventJSONParser(StrictJSONParser):
    """Event bodies (also sent as text/plain by browser beacons), gzip or not, limited to
    the ingestion limit ``max_body_bytes``."""

    def body_limit(self, parser_context: Mapping[str, Any]) -> int:
        limits = getattr(parser_context.get("view"), "limits", None) or current_limits()
        return limits.max_body_bytes


class EventTextParser(EventJSONParser):
    media_type = "text/plain"
