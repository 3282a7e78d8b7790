"""JSON request parsing with ``Content-Encoding: gzip`` and a size limit after decompression."""

from __future__ import annotations

import json
import zlib

from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import BaseParser

from analytics_site.errors import PayloadTooLarge

from .limits import current_limits


def read_body(stream, *, encoding: str, limit: int) -> bytes:
    """The request body, gunzipped when ``encoding`` says gzip; 413 past ``limit`` bytes."""
    raw = stream.read(limit + 1) if stream is not None else b""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        if len(raw) > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        return raw
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise UnsupportedMediaType(encoding, f"Content-Encoding {encoding!r} is not supported")
    if len(raw) > limit:
        raise PayloadTooLarge(f"compressed request body exceeds the limit of {limit} bytes")
    compressed = raw
    wbits = 47 if encoding != "deflate" else 15  # 47: gzip or zlib header, auto-detected
    decompressor = zlib.decompressobj(wbits)
    try:
        body = decompressor.decompress(compressed, limit + 1)
    except zlib.error as exc:
        raise ParseError(f"body is not valid {encoding} data: {exc}") from None
    if len(body) > limit or decompressor.unconsumed_tail:
        raise PayloadTooLarge(
            f"request body exceeds the limit of {limit} bytes after decompression"
        )
    return body


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
        if not body.strip():
            raise ParseError("the request body is empty; send a JSON object")
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ParseError(f"the request body is not valid JSON: {exc}") from None


class EventTextParser(EventJSONParser):
    media_type = "text/plain"
