"""Keen IO write API: ``/3.0/projects/{project_id}/events[/{collection}]``, and the
GET pixel ``/3.0/projects/{project_id}/events/{collection}?api_key=...&data=...``."""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import unquote

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from ..auth import KeenKeyAuthentication
from ..envelope import EventError
from ..normalize import normalize_keen
from ..pixels import gif_response
from ..services import EventGroup, Normalizer
from .base import IngestView
from .pixel import PixelMixin


class KeenView(IngestView):
    authentication_classes = [KeenKeyAuthentication]
    error_style = "keen"

    @property
    def sdk(self) -> str | None:
        """The client's ``Keen-Sdk`` header (``python-0.7.0``), used to infer the category."""
        return self.request.META.get("HTTP_KEEN_SDK")

    def normalizer(self, collection: str) -> Normalizer:
        """Keen's normalizer for events of ``collection`` from this client's SDK."""
        return partial(normalize_keen, collection=collection, sdk=self.sdk)


class KeenEventView(PixelMixin, KeenView):
    """One event into a collection: POST answers 201 ``{"created": true}``; the GET pixel
    (``?api_key=...&data=<base64 JSON>``, as Keen's) answers the 1x1 GIF."""

    http_method_names = ["get", "post", "options"]  # not HEAD: a HEAD must not count an event

    @extend_schema(request=dict, responses={201: dict})
    def post(self, request: Request, project_id: str, collection: str) -> Response:
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
    def get(self, request: Request, project_id: str, collection: str) -> HttpResponse:
        self.add_event(self.pixel_message, collection)
        return gif_response()

    def add_event(self, event: object, collection: str) -> None:
        if not _utf8_name(collection):
            raise ValidationError(
                "collection: the URL path is not valid UTF-8 (%-escapes of a lone surrogate "
                "or of broken UTF-8 cannot name a collection)"
            )
        self.ingest([EventGroup(self.normalizer(collection), [event])], indexed=False)


class KeenBatchView(KeenView):
    """``{collection: [event, ...], ...}``: 200 with a success report per event, as Keen does."""

    @extend_schema(request=dict, responses={200: dict}, operation_id="keen_events_batch_create")
    def post(self, request: Request, project_id: str) -> Response:
        data = request.data
        if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
            raise ParseError("the body must map each collection name to a list of events")
        groups = [EventGroup(self.normalizer(name), events) for name, events in data.items()]
        results = self.ingest(groups, indexed=True, refuse_if_none_valid=False)
        report: dict[str, list[dict[str, Any]]] = {}
        for (collection, events), result in zip(data.items(), results, strict=True):
            failures = {error.index: error for error in result.errors}
            report[collection] = [_report(failures.get(index)) for index in range(len(events))]
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


def _report(error: EventError | None) -> dict[str, Any]:
    """Keen's per-event outcome."""
    if error is None:
        return {"success": True}
    description = f"{error.field}: {error.message}"
    return {"success": False, "error": {"name": "InvalidEventError", "description": description}}
