"""GET pixels (Keen's and Segment's): the ``data`` parameter and the 1x1 GIF answer.

``data`` is the event (or message) as base64 of its UTF-8 JSON, standard or URL-safe
alphabet, padding optional. It is held to the same rules as a POST body: at most
``max_body_bytes`` once decoded (413), decoded by the API's strict JSON rules (400).
"""

from __future__ import annotations

import base64
import binascii
import re

from django.http import HttpResponse
from rest_framework.exceptions import ParseError

from events.json_parsing import PayloadTooLarge, loads_strict

# The classic 43-byte transparent 1x1 GIF89a.
TRANSPARENT_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def decode_pixel_data(value: str | None, *, limit: int) -> object:
    """The JSON value carried by ``data``; ParseError (400) naming ``data`` when it is
    missing, not base64 or not JSON, PayloadTooLarge (413) past ``limit`` decoded bytes."""
    if not value:
        raise ParseError("data: is required (the base64 of the event's JSON)")
    # A literal "+" in a query string reads back as a space; base64 has no spaces.
    text = value.strip().replace(" ", "+").replace("-", "+").replace("_", "/")
    if len(text) > (limit + 2) // 3 * 4 + 2:
        raise PayloadTooLarge(
            f"data: {len(value)} characters of base64 exceed the limit of {limit} bytes decoded"
        )
    if not _BASE64.fullmatch(text):
        raise ParseError("data: is not base64 (standard or URL-safe alphabet)")
    try:
        raw = base64.b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except binascii.Error:
        raise ParseError("data: is not base64 (its length is not that of base64)") from None
    if len(raw) > limit:
        raise PayloadTooLarge(f"data: {len(raw)} bytes decoded exceed the limit of {limit} bytes")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"data: the decoded bytes are not valid UTF-8: {exc}") from None
    if not decoded.strip():
        raise ParseError("data: is empty once decoded; send base64 of a JSON object")
    try:
        return loads_strict(decoded, what="data")
    except ParseError as exc:  # the duplicate-key rule words its message for bodies
        message = str(exc.detail)
        if message.startswith("data: "):
            raise
        raise ParseError("data: " + message.removeprefix("the request body ")) from None


def gif_response() -> HttpResponse:
    """200 with the transparent GIF, never cached (each load must reach us)."""
    response = HttpResponse(TRANSPARENT_GIF, content_type="image/gif")
    response["Cache-Control"] = "no-cache, no-store, must-revalidate, max-age=0"
    response["Content-Length"] = str(len(TRANSPARENT_GIF))
    return response
