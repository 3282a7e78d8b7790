"""Keen's saved-query endpoints, ``/3.0/projects/{id}/queries/saved[/{name}[/result]]``:
list, read, create or replace (PUT) and delete with the master key; results with the
read key. Bodies and answers in Keen's shapes (``saved_queries.as_keen``)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from events.views.keen_api import KeenApiView

from . import saved_queries
from .access_keys import forced_filters
from .models import SavedQuery


def _found(project_id: str, name: str) -> SavedQuery:
    try:
        return saved_queries.find(project_id, name)
    except saved_queries.SavedQueryNotFound as missing:
        raise Http404(str(missing)) from None


class SavedQueriesView(KeenApiView):
    """Every saved query of the project (master key)."""

    allowed_key_kinds = ()

    @extend_schema(
        responses={200: {"type": "array", "items": {"type": "object"}}},
        operation_id="keen_saved_queries_list",
    )
    def get(self, request: Request, project_id: str) -> Response:
        found = SavedQuery.objects.filter(project_id=project_id).order_by("name")
        return Response([saved_queries.as_keen(saved) for saved in found])


class SavedQueryView(KeenApiView):
    """One saved query (master key): GET it, PUT it whole (201 when created), DELETE it."""

    allowed_key_kinds = ()

    @extend_schema(responses={200: dict}, operation_id="keen_saved_query_read")
    def get(self, request: Request, project_id: str, name: str) -> Response:
        return Response(saved_queries.as_keen(_found(project_id, name)))

    @extend_schema(request=dict, responses={200: dict, 201: dict})
    def put(self, request: Request, project_id: str, name: str) -> Response:
        saved, created = saved_queries.save(project_id, name, request.data)
        return Response(saved_queries.as_keen(saved), status=201 if created else 200)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: str, name: str) -> Response:
        try:
            saved_queries.delete(project_id, name)
        except saved_queries.SavedQueryNotFound as missing:
            raise Http404(str(missing)) from None
        return Response(status=204)


class SavedQueryResultView(KeenApiView):
    """A saved query with its ``result`` (read key): a cached query's last
    recomputation with its age, another's answer now."""

    access_permission = "saved_queries"

    @extend_schema(responses={200: dict}, operation_id="keen_saved_query_result")
    def get(self, request: Request, project_id: str, name: str) -> Response:
        saved = _found(project_id, name)
        if forced_filters(self.key):  # an access key limited to some data: answered live
            return Response(saved_queries.scoped_results(saved, self.key))
        return Response(saved_queries.results(saved))
