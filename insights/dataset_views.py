"""Keen's cached-dataset endpoints, ``/3.0/projects/{id}/datasets[/{name}[/results]]``:
create or replace (PUT) and delete with the master key; list with the master key; read
a definition and its results with the read key (``datasets``)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from events.views.keen_api import KeenApiView

from . import datasets
from .models import CachedDataset


def _found(project_id: str, name: str) -> CachedDataset:
    try:
        return datasets.find(project_id, name)
    except datasets.DatasetNotFound as missing:
        raise Http404(str(missing)) from None


class DatasetsView(KeenApiView):
    """Every cached dataset of the project (master key)."""

    allowed_key_kinds = ()

    @extend_schema(responses={200: dict}, operation_id="keen_datasets_list")
    def get(self, request: Request, project_id: str) -> Response:
        found = CachedDataset.objects.filter(project_id=project_id).order_by("name")
        return Response({"datasets": [datasets.as_keen(dataset) for dataset in found]})


class DatasetView(KeenApiView):
    """One dataset: GET its definition (read key), PUT it whole, DELETE it (master)."""

    def get_permissions(self):  # type: ignore[no-untyped-def]  # DRF's signature
        """Reading takes a read key (or an access key permitted ``datasets``); changing
        takes the master key."""
        reading = self.request.method in ("GET", "HEAD")
        self.allowed_key_kinds = ("read",) if reading else ()
        self.access_permission = "datasets" if reading else None
        return super().get_permissions()

    @extend_schema(responses={200: dict}, operation_id="keen_dataset_read")
    def get(self, request: Request, project_id: str, name: str) -> Response:
        return Response(datasets.as_keen(_found(project_id, name)))

    @extend_schema(request=dict, responses={200: dict, 201: dict})
    def put(self, request: Request, project_id: str, name: str) -> Response:
        dataset, created = datasets.save(project_id, name, request.data)
        return Response(datasets.as_keen(dataset), status=201 if created else 200)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: str, name: str) -> Response:
        try:
            datasets.delete(project_id, name)
        except datasets.DatasetNotFound as missing:
            raise Http404(str(missing)) from None
        return Response(status=204)


class DatasetResultsView(KeenApiView):
    """``{"result": [{"timeframe", "value"}]}`` for one ``index_by`` value (read key)."""

    access_permission = "datasets"

    @extend_schema(responses={200: dict}, operation_id="keen_dataset_results")
    def get(self, request: Request, project_id: str, name: str) -> Response:
        dataset = _found(project_id, name)
        result = datasets.results(
            dataset,
            index_by=request.query_params.get("index_by"),
            timeframe=request.query_params.get("timeframe"),
        )
        return Response({"result": result})
