"""Segment HTTP Tracking API: ``/v1/{track,identify,page,screen,group,alias,batch}``."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from ..auth import SegmentKeyAuthentication
from ..ingest import enqueue, normalize_each, raise_if_nothing_valid
from ..limits import current_limits
from ..normalize import normalize_segment
from .base import IngestView, check_batch_size

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
            check_batch_size(items)
            batch = data
        else:
            items, batch = [data], None
        received_at = timezone.now()
        project_id = request.auth.project_id
        limits = current_limits()
        result = normalize_each(
            items,
            lambda raw, index: normalize_segment(
                raw,
                call_type=self.call_type,
                project_id=project_id,
                received_at=received_at,
                index=index,
                limits=limits,
                batch=batch,
            ),
            indexed=self.call_type is None,
        )
        raise_if_nothing_valid(result)
        enqueue(result.accepted)
        body: dict[str, object] = {"success": True}
        if result.errors:
            body["rejected"] = result.rejected
        return Response(body)
