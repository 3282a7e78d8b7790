"""JSON request parsing with ``Content-Encoding: gzip`` and a size limit after decompression."""

from __future__ import annotations

from rest_framework.parsers import BaseParser

from analytics_site.json_parsing import parse_json_body, read_body

from .limits import current_limits


class EventJSONParser(BaseParser):
    """JSON bodies (also sent as text/plain by browser beacons), gzip or not."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        context = parser_context or {}
        request = context.get("request")
        meta = request.META if request is not None else {}
        limits = getattr(context.get("view"), "limits", None) or current_limits()
        body = read_body(
            stream, encoding=meta.get("HTTP_CONTENT_ENCODING", ""), limit=limits.max_body_bytes
        )
        return parse_json_body(body)


class EventTextParser(EventJSONParser):
    media_type = "text/plain"
