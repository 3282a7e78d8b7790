"""Segment HTTP Tracking API: ``/v1/{track,identify,page,screen,group,alias,batch,import}``
and the pixel API, ``GET /v1/pixel/{track,identify,...}?data=<base64 JSON>``."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from ..auth import SegmentKeyAuthentication, SegmentPixelKeyAuthentication
from ..ingest import IngestResult
from ..normalize import normalize_segment
from ..pixels import gif_response
from .base import IngestView
from .pixel import PixelMixin

SEGMENT_CALLS = ("track", "identify", "page", "screen", "group", "alias")


class SegmentView(IngestView):
    """One view per call type; ``call_type=None`` is ``/v1/batch`` (and ``/v1/import``)."""

    authentication_classes = [SegmentKeyAuthentication]
    call_type: str | None = None

    @extend_schema(request=dict, responses={200: dict})
    def post(self, request):
        result = self.ingest(request.data)
        body: dict[str, object] = {"success": True}
        if result.errors:
            body["rejected"] = result.rejected
        return Response(body)

    def ingest(self, data: object) -> IngestResult:
        """Accept one message (or a ``{"batch": [...]}`` body when ``call_type`` is None)."""
        if not isinstance(data, dict):
            raise ParseError("the body must be a JSON object")
        if self.call_type is None:
            items = data.get("batch")
            if not isinstance(items, list):
                raise ParseError("batch: must be a list of messages")
            self.check_batch_size(items)
            batch = data
        else:
            items, batch = [data], None
        return self.accept(
            items,
            normalize_segment,
            indexed=self.call_type is None,
            call_type=self.call_type,
            batch=batch,
        )


class SegmentPixelView(PixelMixin, SegmentView):
    """Segment's pixel API: the message is ``?data=`` (base64 JSON, ``writeKey`` inside);
    answers the 1x1 GIF, or the usual JSON error."""

    authentication_classes = [SegmentPixelKeyAuthentication]
    http_method_names = ["get", "options"]  # not HEAD: a HEAD must not count an event

    @extend_schema(
        parameters=[OpenApiParameter("data", str, required=True, description="base64 JSON")],
        responses={(200, "image/gif"): bytes},
    )
    def get(self, request):
        data = self.pixel_message
        if not isinstance(data, dict):
            raise ParseError("data: must be a JSON object once decoded")
        self.ingest(data)
        return gif_response()
