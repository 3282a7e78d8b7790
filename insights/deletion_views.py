"""Deletion endpoints, master key only: ``POST /api/v1/deletions`` (a user's data),
``GET /api/v1/deletions[/{id}]`` (status and what was removed), and Keen's
``DELETE /3.0/projects/{id}/events/{collection}`` (``delete_events``). Each answers
202 with the deletion; the aggregation worker runs it (``insights.deletions``)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from events.limits import current_limits
from events.views.keen_api import KeenApiView

from . import deletions
from .errors import QueryError
from .master_key_views import MasterKeyView, TimeframeField, checked_event, requester
from .models import Deletion
from .queries import event_collection_of, parse_filters
from .timeframes import parse_timezone, resolve_timeframe


def _answer(deletion: Deletion) -> dict[str, object]:
    return {**deletions.as_dict(deletion), "url": reverse("deletion", args=[deletion.pk])}


class UserDeletionRequest(serializers.Serializer):
    """``distinct_ids`` (1 to DELETION_MAX_USERS), optionally ``event``, ``timeframe`` and
    ``suppress`` (drop the users' later events too)."""

    distinct_ids = serializers.ListField(child=serializers.CharField(), allow_empty=False)
    event = serializers.CharField(required=False, allow_blank=False)
    timeframe = TimeframeField(required=False)
    suppress = serializers.BooleanField(required=False, default=False)

    def validate_distinct_ids(self, value: list[str]) -> list[str]:
        bound = settings.DELETION_MAX_USERS
        if len(value) > bound:
            raise serializers.ValidationError(f"at most {bound} per request (DELETION_MAX_USERS)")
        longest = current_limits().max_distinct_id_length
        if any(len(user) > longest for user in value):
            raise serializers.ValidationError(f"each at most {longest} characters")
        return value

    def validate_event(self, value: str) -> str:
        return checked_event(value)


class DeletionsView(MasterKeyView):
    """Ask for a user's deletion (202), or list the project's latest 100 deletions."""

    @extend_schema(request=UserDeletionRequest, responses={202: dict})
    def post(self, request: Request) -> Response:
        checked = UserDeletionRequest(data=request.data)
        checked.is_valid(raise_exception=True)
        data = checked.validated_data
        timeframe = data.get("timeframe") or {}
        deletion = deletions.request_user_deletion(
            project=self.key.project,
            distinct_ids=data["distinct_ids"],
            name=data.get("event", ""),
            start=timeframe.get("start"),
            end=timeframe.get("end"),
            suppress=data["suppress"],
            requested_by=requester(self.key),
        )
        return Response(_answer(deletion), status=202)

    @extend_schema(responses={200: dict}, operation_id="deletions_list")
    def get(self, request: Request) -> Response:
        found = Deletion.objects.filter(project_id=self.key.project_id)[:100]
        return Response({"deletions": [_answer(deletion) for deletion in found]})


class DeletionView(MasterKeyView):
    """One deletion of the key's project: its status and what it removed."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request, deletion_id: int) -> Response:
        deletion = Deletion.objects.filter(project_id=self.key.project_id, pk=deletion_id).first()
        if deletion is None:
            raise Http404(f"no deletion {deletion_id} in this project")
        return Response(_answer(deletion))


class KeenDeleteEventsView(KeenApiView):
    """Keen's ``delete_events``: the stored events of a collection in ``timeframe``
    (in ``timezone``) matching ``filters``; 202 with the deletion."""

    allowed_key_kinds = ()

    @extend_schema(responses={202: dict}, operation_id="keen_delete_events")
    def delete(self, request: Request, project_id: str, collection: str) -> Response:
        params = request.query_params
        name = event_collection_of(collection, field="event_collection")
        frame = resolve_timeframe(
            params.get("timeframe"), now=timezone.now(), tz=parse_timezone(params.get("timezone"))
        )
        if frame.end - frame.start > dt.timedelta(days=settings.DELETION_MAX_DAYS):
            raise QueryError(
                "timeframe",
                f"a deletion spans at most {settings.DELETION_MAX_DAYS} days (DELETION_MAX_DAYS)",
            )
        deletion = deletions.request_event_deletion(
            project=self.key.project,
            name=name,
            start=frame.start,
            end=frame.end,
            filters=parse_filters(params.get("filters")),
            requested_by=requester(self.key),
        )
        return Response(_answer(deletion), status=202)
