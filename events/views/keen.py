"""Keen IO write API: ``/3.0/projects/{project_id}/events[/{collection}]``."""

from __future__ import annotations

from urllib.parse import unquote

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.response import Response

from ..auth import KeenKeyAuthentication
from ..envelope import EventError
from ..ingest import enqueue
from ..normalize import normalize_keen
from .base import IngestView


class KeenView(IngestView):
    authentication_classes = [KeenKeyAuthentication]
    error_style = "keen"

    @property
    def sdk(self) -> str | None:
        """The client's ``Keen-Sdk`` header (``python-0.7.0``), used to infer the category."""
        return self.request.META.get("HTTP_KEEN_SDK")


class KeenEventView(KeenView):
    """One event into a collection: 201 ``{"created": true}``."""

    @extend_schema(request=dict, responses={201: dict})
    def post(self, request, project_id: str, collection: str):
        if not _utf8_name(collection):
            raise ValidationError(
                "collection: the URL path is not valid UTF-8 (%-escapes of a lone surrogate "
                "or of broken UTF-8 cannot name a collection)"
            )
        self.accept(
            [request.data], normalize_keen, indexed=False, collection=collection, sdk=self.sdk
        )
        return Response({"created": True}, status=status.HTTP_201_CREATED)


class KeenBatchView(KeenView):
    """``{collection: [event, ...], ...}``: 200 with a success report per event, as Keen does."""

    @extend_schema(request=dict, responses={200: dict}, operation_id="keen_events_batch_create")
    def post(self, request, project_id: str):
        data = request.data
        if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
            raise ParseError("the body must map each collection name to a list of events")
        self.check_batch_size([event for events in data.values() for event in events])
        report: dict[str, list[dict]] = {}
        accepted = []
        stored_bytes = 0
        for collection, events in data.items():
            result = self.normalize(
                events, normalize_keen, indexed=True, collection=collection, sdk=self.sdk
            )
            accepted.extend(result.accepted)
            stored_bytes += result.stored_bytes
            failures = {error.index: error for error in result.errors}
            report[collection] = [_report(failures.get(index)) for index in range(len(events))]
        enqueue(accepted, limits=self.limits, stored_bytes=stored_bytes)
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
