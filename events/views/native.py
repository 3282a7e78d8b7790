"""``POST /api/v1/events``: one event, or ``{"batch": [...]}``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response

from spark.schema import CATEGORIES

from ..auth import NativeWriteKeyAuthentication
from ..limits import Limits, current_limits
from ..normalize import normalize_native
from ..services import EventGroup
from .base import IngestView


def native_request_schema(limits: Limits) -> dict[str, Any]:
    """The request body's JSON Schema, its bounds those ``limits`` enforce."""
    event = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": limits.max_name_length},
            "event_id": {
                "type": "string",
                "minLength": 1,
                "maxLength": limits.max_event_id_length,
            },
            "distinct_id": {"type": "string", "maxLength": limits.max_distinct_id_length},
            "category": {"type": "string", "enum": list(CATEGORIES)},
            "timestamp": {"type": "string", "format": "date-time"},
            "properties": {"type": "object"},
            "context": {"type": "object"},
        },
    }
    batch = {
        "type": "array",
        "items": event,
        "minItems": 1,
        "maxItems": limits.max_batch_events,
    }
    return {
        "oneOf": [
            event,
            {"type": "object", "required": ["batch"], "properties": {"batch": batch}},
        ],
    }


class NativeEventsView(IngestView):
    """Accept events with a write key (``Authorization: Bearer``, ``X-Api-Key`` or, for
    ``navigator.sendBeacon``, ``?api_key=``); 202 once they are durably queued."""

    authentication_classes = [NativeWriteKeyAuthentication]

    @extend_schema(
        request={"application/json": native_request_schema(current_limits())},
        responses={202: dict},
        examples=[
            OpenApiExample(
                "one event",
                value={"name": "signup", "distinct_id": "u1", "properties": {"plan": "pro"}},
            ),
            OpenApiExample("batch", value={"batch": [{"name": "signup"}, {"name": "login"}]}),
        ],
    )
    def post(self, request: Request) -> Response:
        data = request.data
        if not isinstance(data, dict):
            raise ParseError('the body must be a JSON object: one event or {"batch": [...]}')
        batched = "batch" in data
        items = data["batch"] if batched else [data]
        if not isinstance(items, list):
            raise ParseError("batch: must be a list of events")
        (result,) = self.ingest([EventGroup(normalize_native, items)], indexed=batched)
        return Response(
            {
                "accepted": len(result.accepted),
                "event_ids": [envelope.event_id for envelope in result.accepted],
                "rejected": result.rejected,
            },
            status=status.HTTP_202_ACCEPTED,
        )
