"""Keen IO write API: ``/3.0/projects/{project_id}/events[/{collection}]``."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from ..auth import KeenKeyAuthentication
from ..ingest import enqueue, normalize_each, raise_if_nothing_valid
from ..limits import current_limits
from ..normalize import normalize_keen
from .base import IngestView, check_batch_size


class KeenView(IngestView):
    authentication_classes = [KeenKeyAuthentication]
    error_style = "keen"

    def _normalizer(self, request, collection: str):
        received_at = timezone.now()
        project_id = request.auth.project_id
        limits = current_limits()
        return lambda raw, index: normalize_keen(
            raw,
            collection=collection,
            project_id=project_id,
            received_at=received_at,
            index=index,
            limits=limits,
            sdk=request.META.get("HTTP_KEEN_SDK"),
        )


class KeenEventView(KeenView):
    """One event into a collection: 201 ``{"created": true}``."""

    @extend_schema(request=dict, responses={201: dict})
    def post(self, request, project_id: str, collection: str):
        result = normalize_each(
            [request.data], self._normalizer(request, collection), indexed=False
        )
        raise_if_nothing_valid(result)
        enqueue(result.accepted)
        return Response({"created": True}, status=status.HTTP_201_CREATED)


class KeenBatchView(KeenView):
    """``{collection: [event, ...], ...}``: 200 with a success report per event, as Keen does."""

    @extend_schema(request=dict, responses={200: dict})
    def post(self, request, project_id: str):
        data = request.data
        if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
            raise ParseError("the body must map each collection name to a list of events")
        check_batch_size([event for events in data.values() for event in events])
        report: dict[str, list[dict]] = {}
        accepted = []
        for collection, events in data.items():
            result = normalize_each(events, self._normalizer(request, collection), indexed=True)
            accepted.extend(result.accepted)
            failures = {error.index: error for error in result.errors}
            report[collection] = [
                {"success": True}
                if index not in failures
                else {
                    "success": False,
                    "error": {
                        "name": "InvalidEventError",
                        "description": f"{failures[index].field}: {failures[index].message}",
                    },
                }
                for index in range(len(events))
            ]
        enqueue(accepted)
        return Response(report)
