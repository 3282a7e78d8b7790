"""Keen IO write API: ``/3.0/projects/{project_id}/events[/{collection}]``, and the
GET pixel ``/3.0/projects/{project_id}/events/{collection}?api_key=...&data=...``."""

from __future__ import annotations

from urllib.parse import unquote

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.response import Response

from ..auth import KeenKeyAuthentication
from ..envelope import EventError
from ..ingest import IngestResult
from ..normalize import normalize_keen
from ..pixels import gif_response
from .base import IngestView
from .pixel import PixelMixin


class KeenView(IngestView):
    authentication_classes = [KeenKeyAuthentication]
    error_style = "keen"

    @property
    def sdk(self) -> str | None:
        """The client's ``Keen-Sdk`` header (``python-0.7.0``), used to infer the category."""
        return self.request.META.get("HTTP_KEEN_SDK")


class KeenEventView(PixelMixin, KeenView):
    """One event into a collection: POST answers 201 ``{"created": true}``; the GET pixel
    (``?api_key=...&data=<base64 JSON>``, as Keen's) answers the 1x1 GIF."""

    http_method_names = ["get", "post", "options"]  # not HEAD: a HEAD must not count an event

    @extend_schema(request=dict, responses={201: dict})
    def post(self, request, project_id: str, collection: str):
        self.add_event(request.data, collection)
        return Response({"created": True}, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            OpenApiParameter("api_key", str, required=True, description="write key"),
            OpenApiParameter("data", str, required=True, description="base64 JSON event"),
        ],
        responses={(200, "image/gif"): bytes},
        operation_id="keen_event_pixel",
    )
    def get(self, request, project_id: str, collection: str):
        self.add_event(self.pixel_message, collection)
        return gif_response()

    def add_event(self, event: object, collection: str) -> None:
        if not _utf8_name(collection):
            raise ValidationError(
                "collection: the URL path is not valid UTF-8 (%-escapes of a lone surrogate "
                "or of broken UTF-8 cannot name a collection)"
            )
        self.accept([event], normalize_keen, indexed=False, collection=collection, sdk=self.sdk)


class KeenBatchView(KeenView):
    """``{collection: [event, ...], ...}``: 200 with a success report per event, as Keen does."""

    @extend_schema(request=dict, responses={200: dict}, operation_id="keen_events_batch_create")
    def post(self, request, project_id: str):
        data = request.data
        if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
            raise ParseError("the body must map each collection name to a list of events")
        self.check_batch_size([event for events in data.values() for event in events])
        report: dict[str, list[dict]] = {}
        combined = IngestResult()
        for collection, events in data.items():
            result = self.normalize(
                events, normalize_keen, indexed=True, collection=collection, sdk=self.sdk
            )
            combined.merge(result)
            failures = {error.index: error for error in result.errors}
            report[collection] = [_report(failures.get(index)) for index in range(len(events))]
        self.enqueue(combined)
        return Response(report)


def _utf8_name(collection: str) -> bool:
    """False if ``collection`` holds %-escapes of bytes that are not UTF-8: Django hands
    the view a path's broken bytes re-escaped (``%ED%A0%80``, a lone surrogate), which
    would otherwise pass for an ASCII name."""
    try:
        unquote(collection, errors="strict")
    except UnicodeDecodeError:
        return False
    return True


def _report(error: EventError | None) -> dict:
    """Keen's per-event outcome."""
    if error is None:
        return {"success": True}
    description = f"{error.field}: {error.message}"
    return {"success": False, "error": {"name": "InvalidEventError", "description": description}}
