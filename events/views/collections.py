"""Keen's schema endpoints: ``GET /3.0/projects/{id}/events`` (every collection with its
properties) and ``GET /3.0/projects/{id}/events/{collection}`` (one), read key; from
the forwarding worker's record of what was ingested (``property_types``)."""

from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from ..property_types import collection_names, collection_types
from .keen_api import KeenApiView


class KeenCollectionsView(KeenApiView):
    """``[{"name", "properties": {path: type}, "url"}]``, by name."""

    access_permission = "schema"

    @extend_schema(responses={200: dict}, operation_id="keen_collections_list")
    def get(self, request: Request, project_id: str) -> Response:
        found = []
        for name in collection_names(project_id):
            types = collection_types(project_id, name)
            if types is not None:
                found.append(_collection(project_id, name, types))
        return Response(found)


class KeenCollectionView(KeenApiView):
    """``{"name", "properties": {path: type}, "url"}``; 404 for a collection never sent."""

    access_permission = "schema"

    @extend_schema(responses={200: dict}, operation_id="keen_collection_schema")
    def get(self, request: Request, project_id: str, collection: str) -> Response:
        types = collection_types(project_id, collection)
        if types is None:
            raise Http404(f"no events of collection {collection[:255]!r} were ever sent")
        return Response(_collection(project_id, collection, types))


def _collection(project_id: str, name: str, types: dict[str, str]) -> dict[str, object]:
    return {
        "name": name,
        "properties": types,
        "url": reverse("keen-event", args=[project_id, name]),
    }
