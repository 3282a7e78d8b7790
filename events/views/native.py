"""``POST /api/v1/events``: one event, or ``{"batch": [...]}``."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from spark.schema import CATEGORIES

from ..auth import NativeWriteKeyAuthentication
from ..normalize import normalize_native
from .base import IngestView

NATIVE_EVENT = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "event_id": {"type": "string", "minLength": 1, "maxLength": 255},
        "distinct_id": {"type": "string", "maxLength": 255},
        "category": {"type": "string", "enum": list(CATEGORIES)},
        "timestamp": {"type": "string", "format": "date-time"},
        "properties": {"type": "object"},
        "context": {"type": "object"},
    },
}
NATIVE_REQUEST = {
    "oneOf": [
        NATIVE_EVENT,
        {
            "type": "object",
            "required": ["batch"],
            "properties": {"batch": {"type": "array", "items": NATIVE_EVENT, "minItems": 1}},
        },
    ],
}


class NativeEventsView(IngestView):
    """Accept events with a write key (``Authorization: Bearer``, ``X-Api-Key`` or, for
    ``navigator.sendBeacon``, ``?api_key=``); 202 once they are durably queued."""

    authentication_classes = [NativeWriteKeyAuthentication]

    @extend_schema(
        request={"application/json": NATIVE_REQUEST},
        responses={202: dict},
        examples=[
            OpenApiExample(
                "one event",
                value={"name": "signup", "distinct_id": "u1", "properties": {"plan": "pro"}},
            ),
            OpenApiExample("batch", value={"batch": [{"name": "signup"}, {"name": "login"}]}),
        ],
    )
    def post(self, request):
        data = request.data
        if not isinstance(data, dict):
            raise ParseError('the body must be a JSON object: one event or {"batch": [...]}')
        batched = "batch" in data
        items = data["batch"] if batched else [data]
        if not isinstance(items, list):
            raise ParseError("batch: must be a list of events")
        self.check_batch_size(items)
        result = self.accept(items, normalize_native, indexed=batched)
        return Response(
            {
                "accepted": len(result.accepted),
                "event_ids": [envelope.event_id for envelope in result.accepted],
                "rejected": result.rejected,
            },
            status=status.HTTP_202_ACCEPTED,
        )
