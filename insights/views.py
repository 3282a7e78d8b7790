"""Query endpoints: Keen-compatible ``/3.0/projects/{id}/queries/{analysis}`` and the
native ``/api/v1/insights/{analysis}``, both answered by ``queries.answer``."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from events.auth import BearerKeyAuthentication, KeenKeyAuthentication, KeyKindPermission
from events.throttling import QueryRateThrottle, rate_limited

from .cache import cached_answer
from .compound import answer_funnel, answer_multi_analysis, parse_funnel, parse_multi_analysis
from .queries import answer
from .queries import parse_query as parse_single
from .timeframes import QueryError

COMPOUND = {
    "multi_analysis": (parse_multi_analysis, answer_multi_analysis),
    "funnel": (parse_funnel, answer_funnel),
}


def max_age_of(value: object) -> float | None:
    """Keen's ``max_age``: seconds, 0 or more; None when absent."""
    if value in (None, ""):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise QueryError("max_age", "must be a number of seconds") from None
    if not seconds >= 0:  # NaN too
        raise QueryError("max_age", "must be 0 or more")
    return seconds


QUERY_PARAMETERS = [
    OpenApiParameter("event_collection", str, required=True, description="the event name"),
    OpenApiParameter("target_property", str, description="required except for count"),
    OpenApiParameter(
        "timeframe", str, required=True, description="this_7_days, previous_24_hours, {start, end}"
    ),
    OpenApiParameter("interval", str, description="hourly, daily or monthly"),
    OpenApiParameter("timezone", str, description="UTC (other zones are not supported yet)"),
    OpenApiParameter("max_age", float, description="seconds a cached result may be old (0: fresh)"),
]
MOVING_AVERAGE_PARAMETERS = [
    OpenApiParameter("kind", str, description="moving average over the interval series: "
                     "sma, ema, wma or cma"),
    OpenApiParameter("window", int, description="n buckets (the span for ema; none for cma)"),
]  # fmt: skip


class QueryView(APIView):
    """Shared: read keys only, parameters from the query string (GET) or the body (POST);
    at most ``QUERY_RATE_LIMIT`` requests per key (429 with Retry-After beyond)."""

    permission_classes = [KeyKindPermission]
    throttle_classes = [QueryRateThrottle]
    allowed_key_kinds = ("read",)

    def throttled(self, request, wait):
        raise rate_limited("QUERY_RATE_LIMIT", wait)

    def respond(self, params, analysis: str) -> Response:
        try:
            now = timezone.now()
            if analysis in COMPOUND:
                parse, run = COMPOUND[analysis]
                query = parse(params, now=now)
            else:
                query, run = parse_single(analysis, params, now=now), answer
            project_id = self.request.auth.project_id
            result = cached_answer(
                project_id=project_id,
                query=query,
                max_age=max_age_of(params.get("max_age")),
                compute=lambda: run(project_id=project_id, query=query),
            )
        except QueryError as exc:
            raise ValidationError(f"{exc.field}: {exc.message}") from exc
        return Response({"result": result})

    @extend_schema(parameters=QUERY_PARAMETERS, responses={200: dict})
    def get(self, request, analysis: str, **kwargs):
        return self.respond(request.query_params, analysis)

    @extend_schema(request=dict, responses={200: dict})
    def post(self, request, analysis: str, **kwargs):
        params = request.data if hasattr(request.data, "get") else {}
        return self.respond(params, analysis)


class KeenQueryView(QueryView):
    """Keen's query API; ``Authorization: <read key>`` or ``?api_key=``; Keen's error shape."""

    authentication_classes = [KeenKeyAuthentication]
    error_style = "keen"

    def respond(self, params, analysis: str) -> Response:
        if params.get("kind") or params.get("window"):
            raise ValidationError("kind: moving averages are on /api/v1/insights, not Keen's API")
        return super().respond(params, analysis)


class NativeQueryView(QueryView):
    """The same analyses for the key's own project, plus a moving average over an
    interval series (``kind``, ``window``); ``Authorization: Bearer <read key>``."""

    authentication_classes = [BearerKeyAuthentication]

    @extend_schema(parameters=QUERY_PARAMETERS + MOVING_AVERAGE_PARAMETERS, responses={200: dict})
    def get(self, request, analysis: str, **kwargs):
        return self.respond(request.query_params, analysis)
