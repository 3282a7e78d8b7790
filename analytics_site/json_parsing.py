"""Request bodies: bounded reading (gzip/deflate included) and strict JSON decoding.

Every body is read with a byte limit that also applies after decompression, so a
gzip bomb costs at most the limit.

Rejected with a message saying why: invalid UTF-8, invalid JSON, an object with the
same key twice (parsers disagree on which one wins, so we refuse to guess), and
nesting deeper than the decoder's recursion bound.
"""

from __future__ import annotations

import json
import zlib

from django.conf import settings
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import BaseParser

from .errors import PayloadTooLarge


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


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ParseError(f"the request body has the key {duplicate!r} twice in one object")
    return result


def parse_json_body(body: bytes) -> object:
    """``body`` decoded as strict JSON, or ParseError (400) naming the problem."""
    if not body.strip():
        raise ParseError("the request body is empty; send a JSON object")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"the request body is not valid UTF-8: {exc}") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise ParseError(f"the request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ParseError("the request body is nested too deeply") from None


class StrictJSONParser(BaseParser):
    """DRF parser for ``application/json`` through :func:`parse_json_body`.

    Bodies larger than :meth:`body_limit` bytes (after decompression; Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE unless a subclass says otherwise) are refused with a 413
    before being parsed.
    """

    media_type = "application/json"

    def body_limit(self, parser_context: dict) -> int:
        return settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    def parse(self, stream, media_type=None, parser_context=None):
        context = parser_context or {}
        request = context.get("request")
        encoding = request.META.get("HTTP_CONTENT_ENCODING", "") if request is not None else ""
        body = read_body(stream, encoding=encoding, limit=self.body_limit(context))
        return parse_json_body(body)
