"""``GET``/``PUT /api/v1/retention``, master key: the project's raw-event retention."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from .master_key_views import MasterKeyView
from .retention import queue_apply

MAX_RETENTION_DAYS = 36_500


class RetentionRequest(serializers.Serializer):
    """``raw_events_days``: 1 to 36,500, or null to keep raw events forever."""

    raw_events_days = serializers.IntegerField(
        min_value=1, max_value=MAX_RETENTION_DAYS, allow_null=True
    )


class RetentionView(MasterKeyView):
    """The project's retention; a change rewrites what is stored (in the background)."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(self._answer())

    @extend_schema(request=RetentionRequest, responses={200: dict})
    def put(self, request: Request) -> Response:
        checked = RetentionRequest(data=request.data)
        checked.is_valid(raise_exception=True)
        project = self.key.project
        days = checked.validated_data["raw_events_days"]
        if days != project.raw_retention_days:
            project.raw_retention_days = days
            project.save(update_fields=["raw_retention_days"])
            queue_apply(project.pk)
        return Response(self._answer())

    def _answer(self) -> dict[str, object]:
        return {"raw_events_days": self.key.project.raw_retention_days, "rollups": "kept"}
