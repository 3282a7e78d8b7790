"""How the API key authentications appear in the OpenAPI schema (drf-spectacular)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

if TYPE_CHECKING:
    from drf_spectacular.openapi import AutoSchema


class _KeyScheme(OpenApiAuthenticationExtension):
    """One authentication class's security scheme; ``target_class`` None: matches none."""

    definition: dict[str, Any] = {}

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return self.definition


def _http(scheme: str, description: str) -> dict[str, Any]:
    return {"type": "http", "scheme": scheme, "description": description}


# (authentication class in events.auth, scheme name, security definition)
SCHEMES = [
    (
        "BearerKeyAuthentication",
        "bearerKey",
        _http("bearer", "A project key: `Authorization: Bearer <key>` (or `X-Api-Key`)."),
    ),
    (
        "SegmentKeyAuthentication",
        "segmentWriteKey",
        _http(
            "basic",
            "The write key as the Basic user, empty password "
            "(or `writeKey` in the body), as Segment's HTTP API.",
        ),
    ),
    (
        "KeenKeyAuthentication",
        "keenKey",
        {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A project key as the whole `Authorization` header, as Keen's API.",
        },
    ),
    (
        "NativeWriteKeyAuthentication",
        "nativeWriteKey",
        _http(
            "bearer",
            "A write key: `Authorization: Bearer <key>`, `X-Api-Key`, or "
            "`?api_key=<key>` (for `navigator.sendBeacon`, which cannot set headers).",
        ),
    ),
    (
        "SegmentPixelKeyAuthentication",
        "segmentPixelWriteKey",
        _http(
            "basic",
            "`writeKey` inside the base64 JSON of `?data=`, as Segment's "
            "pixel API (or the write key as the Basic user).",
        ),
    ),
]

# Defining a subclass registers it with drf-spectacular.
for _auth, _name, _definition in SCHEMES:
    type(
        f"{_auth}Scheme",
        (_KeyScheme,),
        {"target_class": f"events.auth.{_auth}", "name": _name, "definition": _definition},
    )
