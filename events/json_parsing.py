"""Request bodies: bounded reading (gzip/deflate included) and strict JSON decoding.

Every body is read with a byte limit that also applies after decompression, so a
gzip bomb costs at most the limit.

Rejected with a message saying why: invalid UTF-8, invalid JSON, an object with the
same key twice (parsers disagree on which one wins, so we refuse to guess), nesting
deeper than the decoder's recursion bound, the non-JSON literals ``NaN``,
``Infinity`` and ``-Infinity``, a number too large for a double (``1e400``) and an
integer of more than 4,300 digits.

Lone UTF-16 surrogates (``"\\ud800"`` without its pair: valid JSON grammar, but not
Unicode text) are replaced by U+FFFD, the rule browsers apply when they encode such
a string (WHATWG USVString). Nothing else in the request is affected, and what is
stored and counted is exactly what a later read returns. This is the one JSON
decoder of the API: request bodies and JSON-valued query parameters alike.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import BaseParser


class PayloadTooLarge(ValueError):
    """A body (or a value decoded like one) past its byte limit; the message names the
    limit. ``analytics_site.errors`` answers it 413."""


def read_body(stream: IO[bytes] | None, *, encoding: str, limit: int) -> bytes:
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


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        keys = [key for key, _ in pairs]
        duplicate = next(key for index, key in enumerate(keys) if key in keys[:index])
        raise ParseError(f"the request body has the key {duplicate!r} twice in one object")
    return result


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT_CHARACTER = "\ufffd"
MAX_INTEGER_DIGITS = 4300  # CPython's int/str conversion bound (sys.get_int_max_str_digits)


def _well_formed(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (a no-op for valid text)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub(REPLACEMENT_CHARACTER, text)
    return text


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJSON(f"the number {text[:40]} is out of the range of a double")
    return value


def _no_constants(name: str) -> object:
    raise _NotJSON(f"{name} is not valid JSON (numbers must be finite)")


class _NotJSON(ValueError):
    """A strictness rule of ours, raised from inside the decoder's hooks."""


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _repaired(node: object) -> object:
    """``node`` with lone surrogates in every string (keys too) replaced by U+FFFD."""
    if isinstance(node, str):
        return _well_formed(node)
    if isinstance(node, list):
        return [_repaired(item) for item in node]
    if isinstance(node, dict):
        repaired = {_well_formed(key): _repaired(value) for key, value in node.items()}
        if len(repaired) != len(node):
            raise _NotJSON("two keys of one object are the same once lone surrogates are replaced")
        return repaired
    return node


def _decode(text: str) -> object:
    value = json.loads(
        text,
        object_pairs_hook=_no_duplicate_keys,
        parse_float=_finite_float,
        parse_constant=_no_constants,
    )
    # Only an escape can produce a surrogate (UTF-8 input cannot encode one), so the
    # walk runs only for bodies that contain \uD800-\uDFFF escapes.
    return _repaired(value) if _SURROGATE_ESCAPE.search(text) else value


class InvalidJSON(ValueError):
    """Text that the API's JSON rules refuse; the message says why."""


def decode_json(text: str) -> object:
    """``text`` decoded by the API's JSON rules (module docstring), or InvalidJSON."""
    try:
        return _decode(text)
    except _NotJSON as exc:
        raise InvalidJSON(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise InvalidJSON(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidJSON("nested too deeply") from None
    except ValueError as exc:  # int("9" * 5000): CPython's digit limit
        if "digits" in str(exc):
            raise InvalidJSON(
                f"holds an integer of more than {MAX_INTEGER_DIGITS} digits"
            ) from None
        raise InvalidJSON(f"not valid JSON: {exc}") from None


def loads_strict(text: str, *, what: str = "the request body") -> object:
    """:func:`decode_json`, with ParseError (400) whose message starts with ``what``."""
    try:
        return decode_json(text)
    except InvalidJSON as exc:
        raise ParseError(f"{what}: {exc}") from None


def parse_json_body(body: bytes) -> object:
    """``body`` decoded as strict JSON, or ParseError (400) naming the problem."""
    if not body.strip():
        raise ParseError("the request body is empty; send a JSON object")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"the request body is not valid UTF-8: {exc}") from None
    return loads_strict(text)


class StrictJSONParser(BaseParser):
    """DRF parser for ``application/json`` through :func:`parse_json_body`.

    Bodies larger than :meth:`body_limit` bytes (after decompression; Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE unless a subclass says otherwise) are refused with a 413
    before being parsed.
    """

    media_type = "application/json"

    def body_limit(self, parser_context: Mapping[str, Any]) -> int:
        return settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    def parse(
        self,
        stream: IO[bytes] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        context = parser_context or {}
        request = context.get("request")
        encoding = request.META.get("HTTP_CONTENT_ENCODING", "") if request is not None else ""
        body = read_body(stream, encoding=encoding, limit=self.body_limit(context))
        return parse_json_body(body)
