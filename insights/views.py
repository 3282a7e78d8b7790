"""Query endpoints: Keen-compatible ``/3.0/projects/{id}/queries/{analysis}`` and the
native ``/api/v1/insights/{analysis}``, both answered by ``selectors.query_answer``.

A QueryError (a parameter to fix) is answered 400 by the API's exception handler.
"""

from __future__ import annotations

from typing import NoReturn, cast

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from events.auth import BearerKeyAuthentication, KeenKeyAuthentication, KeyKindPermission
from events.models import ApiKey
from events.throttling import QueryRateThrottle, rate_limited

from .openapi import MOVING_AVERAGE_PARAMETERS, QUERY_PARAMETERS
from .queries import Params, max_age_of
from .selectors import query_answer


class QueryView(APIView):
    """Shared: read keys only, parameters from the query string (GET) or the body (POST);
    at most ``QUERY_RATE_LIMIT`` requests per key (429 with Retry-After beyond)."""

    permission_classes = [KeyKindPermission]
    throttle_classes = [QueryRateThrottle]
    allowed_key_kinds = ("read",)

    def throttled(self, request: Request, wait: float) -> NoReturn:  # QueryRateThrottle waits
        raise rate_limited("QUERY_RATE_LIMIT", wait)

    def respond(self, params: Params, analysis: str) -> Response:
        result = query_answer(
            project_id=cast(ApiKey, self.request.auth).project_id,  # KeyKindPermission: an ApiKey
            analysis=analysis,
            params=params,
            max_age=max_age_of(params.get("max_age")),
        )
        return Response({"result": result})

    @extend_schema(parameters=QUERY_PARAMETERS, responses={200: dict})
    def get(self, request: Request, analysis: str, **kwargs: str) -> Response:
        return self.respond(request.query_params, analysis)

    @extend_schema(request=dict, responses={200: dict})
    def post(self, request: Request, analysis: str, **kwargs: str) -> Response:
        params = request.data if hasattr(request.data, "get") else {}
        return self.respond(params, analysis)


class KeenQueryView(QueryView):
    """Keen's query API; ``Authorization: <read key>`` or ``?api_key=``; Keen's error shape."""

    authentication_classes = [KeenKeyAuthentication]
    error_style = "keen"

    def respond(self, params: Params, analysis: str) -> Response:
        if params.get("kind") or params.get("window"):
            raise ValidationError("kind: moving averages are on /api/v1/insights, not Keen's API")
        return super().respond(params, analysis)


class NativeQueryView(QueryView):
    """The same analyses for the key's own project, plus a moving average over an
    interval series (``kind``, ``window``); ``Authorization: Bearer <read key>``."""

    authentication_classes = [BearerKeyAuthentication]

    @extend_schema(parameters=QUERY_PARAMETERS + MOVING_AVERAGE_PARAMETERS, responses={200: dict})
    def get(self, request: Request, analysis: str, **kwargs: str) -> Response:
        return self.respond(request.query_params, analysis)
