"""Segment HTTP Tracking API: ``/v1/{track,identify,page,screen,group,alias,batch}``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from ..auth import SegmentKeyAuthentication
from ..normalize import normalize_segment
from .base import IngestView

SEGMENT_CALLS = ("track", "identify", "page", "screen", "group", "alias")


class SegmentView(IngestView):
    """One view per call type; ``call_type=None`` is ``/v1/batch``."""

    authentication_classes = [SegmentKeyAuthentication]
    call_type: str | None = None

    @extend_schema(request=dict, responses={200: dict})
    def post(self, request):
        data = request.data
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
        result = self.accept(
            items,
            normalize_segment,
            indexed=self.call_type is None,
            call_type=self.call_type,
            batch=batch,
        )
        body: dict[str, object] = {"success": True}
        if result.errors:
            body["rejected"] = result.rejected
        return Response(body)
