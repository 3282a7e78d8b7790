"""How the API key authentications appear in the OpenAPI schema (drf-spectacular)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerKeyScheme(OpenApiAuthenticationExtension):
    target_class = "events.auth.BearerKeyAuthentication"
    name = "bearerKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A project key: `Authorization: Bearer <key>` (or `X-Api-Key`).",
        }


class SegmentKeyScheme(OpenApiAuthenticationExtension):
    target_class = "events.auth.SegmentKeyAuthentication"
    name = "segmentWriteKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "The write key as the Basic user, empty password "
            "(or `writeKey` in the body), as Segment's HTTP API.",
        }


class KeenKeyScheme(OpenApiAuthenticationExtension):
    target_class = "events.auth.KeenKeyAuthentication"
    name = "keenKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A project key as the whole `Authorization` header, as Keen's API.",
        }


class NativeWriteKeyScheme(OpenApiAuthenticationExtension):
    target_class = "events.auth.NativeWriteKeyAuthentication"
    name = "nativeWriteKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A write key: `Authorization: Bearer <key>`, `X-Api-Key`, or "
            "`?api_key=<key>` (for `navigator.sendBeacon`, which cannot set headers).",
        }


class SegmentPixelKeyScheme(OpenApiAuthenticationExtension):
    target_class = "events.auth.SegmentPixelKeyAuthentication"
    name = "segmentPixelWriteKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "`writeKey` inside the base64 JSON of `?data=`, as Segment's "
            "pixel API (or the write key as the Basic user).",
        }
