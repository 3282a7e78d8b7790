"""Project-level API views."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .health import run_health_checks


class HealthView(APIView):
    """``GET /api/v1/health``: 200 when every component answers (``degraded`` naming any
    that answer but are not fully well), 503 naming what is down."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(
        responses={
            200: inline_serializer(
                "Health",
                {
                    "status": serializers.CharField(),
                    "down": serializers.ListField(child=serializers.CharField()),
                    "degraded": serializers.ListField(child=serializers.CharField()),
                    "components": serializers.DictField(),
                },
            )
        }
    )
    def get(self, request: Request) -> Response:
        results = run_health_checks()
        down = [result.name for result in results if not result.up]
        degraded = [result.name for result in results if result.up and result.degraded]
        body = {
            "status": "unavailable" if down else "degraded" if degraded else "ok",
            "down": down,
            "degraded": degraded,
            "components": {result.name: result.as_dict() for result in results},
        }
        code = status.HTTP_200_OK if not down else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(body, status=code)
