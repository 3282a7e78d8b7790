"""Export endpoints, master key only: ``POST /api/v1/exports`` (202 with the export),
``GET /api/v1/exports[/{id}]`` (progress and files), ``POST .../{id}/resume``, and
``GET .../{id}/files/{path}`` (one file). Files go under ``EXPORTS_DIR/<id>``: an API
caller cannot choose where the server writes (``manage.py export`` can)."""

from __future__ import annotations

from pathlib import Path

from django.http import FileResponse, Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from . import exports
from .master_key_views import MasterKeyView, TimeframeField, checked_event, requester
from .models import ExportJob


class ExportRequest(serializers.Serializer):
    """``format`` (parquet or jsonl), optionally ``event`` and ``timeframe``."""

    format = serializers.ChoiceField(choices=ExportJob.Format.values)
    event = serializers.CharField(required=False, allow_blank=False)
    timeframe = TimeframeField(required=False)

    def validate_event(self, value: str) -> str:
        return checked_event(value)


class ExportsView(MasterKeyView):
    """Ask for an export of the project's raw events (202), or list the latest 100."""

    @extend_schema(request=ExportRequest, responses={202: dict})
    def post(self, request: Request) -> Response:
        checked = ExportRequest(data=request.data)
        checked.is_valid(raise_exception=True)
        data = checked.validated_data
        timeframe = data.get("timeframe") or {}
        job = exports.request_export(
            project=self.key.project,
            file_format=data["format"],
            name=data.get("event", ""),
            start=timeframe.get("start"),
            end=timeframe.get("end"),
            requested_by=requester(self.key),
        )
        return Response(exports.as_dict(job), status=202)

    @extend_schema(responses={200: dict}, operation_id="exports_list")
    def get(self, request: Request) -> Response:
        found = ExportJob.objects.filter(project_id=self.key.project_id)[:100]
        return Response({"exports": [exports.as_dict(job) for job in found]})


class _OneExport(MasterKeyView):
    def found(self, export_id: str) -> ExportJob:
        job = ExportJob.objects.filter(project_id=self.key.project_id, pk=export_id).first()
        if job is None:
            raise Http404(f"no export {export_id} in this project")
        return job


class ExportView(_OneExport):
    """One export: its progress, events written and files."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request, export_id: str) -> Response:
        return Response(exports.as_dict(self.found(export_id)))


class ExportResumeView(_OneExport):
    """Queue an unfinished export again, from its first chunk not done (202)."""

    @extend_schema(request=None, responses={202: dict})
    def post(self, request: Request, export_id: str) -> Response:
        job = self.found(export_id)
        exports.resume(job)
        return Response(exports.as_dict(job), status=202)


class ExportFileView(_OneExport):
    """One file of an export, as listed in its ``files``."""

    @extend_schema(responses={200: bytes})
    def get(self, request: Request, export_id: str, path: str) -> FileResponse:
        job = self.found(export_id)
        if "://" in job.destination:
            raise Http404(f"export {export_id} is in {job.destination}: read it there")
        listed = {entry["path"] for entry in exports.files(job)}
        if path not in listed:
            raise Http404(f"export {export_id} has no file {path[:255]!r}")
        return FileResponse(open(Path(job.destination) / path, "rb"), as_attachment=True)
