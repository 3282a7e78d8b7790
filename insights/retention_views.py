"""``GET``/``PUT /api/v1/retention``, master key: the project's raw-event and rollup
retention."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from .master_key_views import MasterKeyView
from .retention import queue_apply, queue_purge

MAX_RETENTION_DAYS = 36_500


class RetentionRequest(serializers.Serializer):
    """Each of 1 to 36,500 days, or null to keep forever; a field left out is unchanged."""

    raw_events_days = serializers.IntegerField(
        min_value=1, max_value=MAX_RETENTION_DAYS, allow_null=True, required=False
    )
    rollups_days = serializers.IntegerField(
        min_value=1, max_value=MAX_RETENTION_DAYS, allow_null=True, required=False
    )


class RetentionView(MasterKeyView):
    """The project's retention; a change rewrites or purges what is stored (in the
    background)."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(self._answer())

    @extend_schema(request=RetentionRequest, responses={200: dict})
    def put(self, request: Request) -> Response:
        checked = RetentionRequest(data=request.data)
        checked.is_valid(raise_exception=True)
        asked = checked.validated_data
        project = self.key.project
        if "raw_events_days" in asked and asked["raw_events_days"] != project.raw_retention_days:
            project.raw_retention_days = asked["raw_events_days"]
            project.save(update_fields=["raw_retention_days"])
            queue_apply(project.pk)
        if "rollups_days" in asked and asked["rollups_days"] != project.rollup_retention_days:
            project.rollup_retention_days = asked["rollups_days"]
            project.save(update_fields=["rollup_retention_days"])
            queue_purge(project.pk)
        return Response(self._answer())

    def _answer(self) -> dict[str, object]:
        project = self.key.project
        return {
            "raw_events_days": project.raw_retention_days,
            "rollups_days": project.rollup_retention_days,
        }
