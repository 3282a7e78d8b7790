"""OpenAPI post-processing: every operation documents the errors it can answer.

drf-spectacular documents success responses from the views; the error answers come
from one exception handler (``analytics_site.errors``), so they are added here, in
the shape the path uses: Keen's for ``/3.0/`` paths, the native one elsewhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drf_spectacular.generators import SchemaGenerator
    from rest_framework.request import Request

ERROR_STATUSES = {
    "400": "Invalid request: the message names the field and the limit",
    "401": "Missing or unknown key",
    "403": "Key of the wrong kind or project",
    "404": "Not found",
    "405": "Method not allowed",
    "406": "Not acceptable",
    "413": "Request or event too large",
    "415": "Unsupported media type or content encoding",
    "429": "Rate limit exceeded (see Retry-After)",
    "503": "A component is down; nothing was accepted (see Retry-After)",
}

NATIVE_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "code", "message"],
            "properties": {
                "status": {"type": "integer"},
                "code": {"type": "string"},
                "message": {"type": "string"},
                "errors": {"type": "array", "items": {"type": "object"}},
            },
        }
    },
}

KEEN_ERROR = {
    "type": "object",
    "required": ["message", "error_code"],
    "properties": {"message": {"type": "string"}, "error_code": {"type": "string"}},
}


def add_error_responses(
    result: dict[str, Any], generator: SchemaGenerator, request: Request | None, public: bool
) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = NATIVE_ERROR
    schemas["KeenError"] = KEEN_ERROR
    for path, operations in result.get("paths", {}).items():
        shape = "KeenError" if path.startswith("/3.0/") else "Error"
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": f"#/components/schemas/{shape}"}
                            }
                        },
                    },
                )
    return result
