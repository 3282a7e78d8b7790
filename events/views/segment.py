"""Segment HTTP Tracking API: ``/v1/{track,identify,page,screen,group,alias,batch,import}``
and the pixel API, ``GET /v1/pixel/{track,identify,...}?data=<base64 JSON>``."""

from __future__ import annotations

from functools import partial

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response

from ..auth import SegmentKeyAuthentication, SegmentPixelKeyAuthentication
from ..ingest import IngestResult
from ..normalize import normalize_segment
from ..pixels import gif_response
from ..services import EventGroup
from .base import IngestView
from .pixel import PixelMixin


class SegmentView(IngestView):
    """One view per call type; ``call_type=None`` is ``/v1/batch`` (and ``/v1/import``)."""

    authentication_classes = [SegmentKeyAuthentication]
    call_type: str | None = None

    @extend_schema(request=dict, responses={200: dict})
    def post(self, request: Request) -> Response:
        result = self.accept_message(request.data)
        body: dict[str, object] = {"success": True}
        if result.errors:
            body["rejected"] = result.rejected
        return Response(body)

    def accept_message(self, data: object) -> IngestResult:
        """Accept one message (or a ``{"batch": [...]}`` body when ``call_type`` is None)."""
        if not isinstance(data, dict):
            raise ParseError("the body must be a JSON object")
        if self.call_type is None:
            items = data.get("batch")
            if not isinstance(items, list):
                raise ParseError("batch: must be a list of messages")
            batch = data
        else:
            items, batch = [data], None
        normalize = partial(normalize_segment, call_type=self.call_type, batch=batch)
        (result,) = self.ingest([EventGroup(normalize, items)], indexed=batch is not None)
        return result


class SegmentPixelView(PixelMixin, SegmentView):
    """Segment's pixel API: the message is ``?data=`` (base64 JSON, ``writeKey`` inside);
    answers the 1x1 GIF, or the usual JSON error."""

    authentication_classes = [SegmentPixelKeyAuthentication]
    http_method_names = ["get", "options"]  # not HEAD: a HEAD must not count an event

    @extend_schema(
        parameters=[OpenApiParameter("data", str, required=True, description="base64 JSON")],
        responses={(200, "image/gif"): bytes},
    )
    def get(self, request: Request) -> HttpResponse:
        data = self.pixel_message
        if not isinstance(data, dict):
            raise ParseError("data: must be a JSON object once decoded")
        self.accept_message(data)
        return gif_response()
