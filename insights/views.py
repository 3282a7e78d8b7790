"""Query endpoints: Keen-compatible ``/3.0/projects/{id}/queries/{analysis}`` and the
native ``/api/v1/insights/{analysis}``, both answered by ``selectors.query_answer``.

A QueryError (a parameter to fix) is answered 400 by the API's exception handler.
"""

from __future__ import annotations

import time
from typing import NoReturn, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from events.auth import BearerKeyAuthentication, KeenKeyAuthentication, KeyKindPermission
from events.models import ApiKey
from events.throttling import QueryRateThrottle, rate_limited
from events.views.keen_api import KeenApiView

from .access_keys import scoped
from .extraction import extraction_path
from .models import ExtractionJob
from .openapi import MOVING_AVERAGE_PARAMETERS, QUERY_PARAMETERS
from .queries import Params, max_age_of
from .selectors import extraction_answer, query_answer


class QueryView(APIView):
    """Shared: read keys only, parameters from the query string (GET) or the body (POST);
    at most ``QUERY_RATE_LIMIT`` requests per key (429 with Retry-After beyond)."""

    permission_classes = [KeyKindPermission]
    throttle_classes = [QueryRateThrottle]
    allowed_key_kinds = ("read",)
    access_permission = "queries"

    def throttled(self, request: Request, wait: float) -> NoReturn:  # QueryRateThrottle waits
        raise rate_limited("QUERY_RATE_LIMIT", wait)

    def respond(self, params: Params, analysis: str) -> Response:
        key = cast(ApiKey, self.request.auth)  # KeyKindPermission admits only an ApiKey
        project_id = key.project_id
        params = scoped(analysis, params, key)  # an access key's forced filters
        started = time.perf_counter()
        metadata: dict[str, object] = {}
        if analysis == "extraction":
            found = extraction_answer(project_id=project_id, params=params, metadata=metadata)
            if isinstance(found, ExtractionJob):
                return Response(self.queued(found), status=202)
            result: object = found
        else:
            result = query_answer(
                project_id=project_id,
                analysis=analysis,
                params=params,
                max_age=max_age_of(params.get("max_age")),
                metadata=metadata,
            )
        body: dict[str, object] = {"result": result}
        if str(params.get("include_metadata", "")).lower() == "true":
            metadata["total_processing_time"] = round(time.perf_counter() - started, 6)
            body["execution_metadata"] = metadata
        return Response(body)

    def queued(self, job: ExtractionJob) -> dict[str, object]:
        """The 202 answer of an asynchronous extraction: Keen's ``result`` message, and
        where to follow the job and fetch its events."""
        status_url = self.request.build_absolute_uri(
            reverse("keen-extraction", args=[job.project_id, job.id])
        )
        return {
            "result": f"Processing. The extraction's status and events will be at {status_url}",
            "job": extraction_job_view(job, status_url),
        }

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


def extraction_job_view(job: ExtractionJob, status_url: str) -> dict[str, object]:
    """An ExtractionJob as the API shows it; ``events_url`` once its file is written."""
    view: dict[str, object] = {
        "id": str(job.id),
        "status": job.status,
        "events": job.events,
        "events_scanned": job.scanned,
        "error": job.error or None,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "url": status_url,
    }
    if job.status == ExtractionJob.Status.SUCCEEDED:
        view["events_url"] = f"{status_url}/events"
    return view


class ExtractionJobView(KeenApiView):
    """An asynchronous extraction of the read key's project: its status (GET
    ``.../extractions/{id}``) and, once done, its events as JSON Lines
    (``.../extractions/{id}/events``); 404 for an unknown job."""

    access_permission = "queries"

    def job(self, project_id: str, job_id: str) -> ExtractionJob:
        try:
            return ExtractionJob.objects.get(pk=job_id, project_id=project_id)
        except (ExtractionJob.DoesNotExist, ValueError, DjangoValidationError):
            raise Http404("no such extraction") from None

    @extend_schema(responses={200: dict})
    def get(self, request: Request, project_id: str, job_id: str) -> Response:
        job = self.job(project_id, job_id)
        url = request.build_absolute_uri(reverse("keen-extraction", args=[project_id, job.id]))
        return Response(extraction_job_view(job, url))


class ExtractionEventsView(ExtractionJobView):
    @extend_schema(responses={(200, "application/x-ndjson"): bytes})
    def get(self, request: Request, project_id: str, job_id: str) -> FileResponse:  # type: ignore[override]
        job = self.job(project_id, job_id)
        if job.status != ExtractionJob.Status.SUCCEEDED:
            raise Http404(f"the extraction is {job.status}, not done")
        path = extraction_path(job.id)
        if not path.exists():
            raise Http404("the extraction's file is gone")
        return FileResponse(
            path.open("rb"),
            content_type="application/x-ndjson",
            as_attachment=True,
            filename=f"extraction-{job.id}.jsonl",
        )
