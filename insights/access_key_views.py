"""Keen's access-key endpoints, ``/3.0/projects/{id}/keys[/{key}[/revoke|/unrevoke]]``,
master key only (``access_keys``); answers in Keen's shape."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from events.models import ApiKey
from events.views.keen_api import KeenApiView

from . import access_keys


class MasterKeyView(KeenApiView):
    allowed_key_kinds = ()

    def found(self, project_id: str, ref: str) -> ApiKey:
        try:
            return access_keys.find(project_id, ref)
        except access_keys.AccessKeyNotFound as missing:
            raise Http404(str(missing)) from None


class AccessKeysView(MasterKeyView):
    """List the project's access keys, or create one (201, with its plaintext ``key``)."""

    @extend_schema(responses={200: dict}, operation_id="keen_access_keys_list")
    def get(self, request: Request, project_id: str) -> Response:
        found = ApiKey.objects.filter(project_id=project_id, kind=ApiKey.Kind.ACCESS)
        return Response({"keys": [access_keys.as_keen(key) for key in found]})

    @extend_schema(request=dict, responses={201: dict}, operation_id="keen_access_key_create")
    def post(self, request: Request, project_id: str) -> Response:
        key, plaintext = access_keys.create(project_id, request.data)
        return Response(access_keys.as_keen(key, plaintext), status=201)


class AccessKeyView(MasterKeyView):
    """One access key: GET it, POST a full update, DELETE it."""

    @extend_schema(responses={200: dict}, operation_id="keen_access_key_read")
    def get(self, request: Request, project_id: str, key: str) -> Response:
        return Response(access_keys.as_keen(self.found(project_id, key)))

    @extend_schema(request=dict, responses={200: dict}, operation_id="keen_access_key_update")
    def post(self, request: Request, project_id: str, key: str) -> Response:
        self.found(project_id, key)
        return Response(access_keys.as_keen(access_keys.update(project_id, key, request.data)))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: str, key: str) -> Response:
        self.found(project_id, key)
        access_keys.delete(project_id, key)
        return Response(status=204)


class AccessKeyActivationView(MasterKeyView):
    """``.../revoke`` (``active=False``) or ``.../unrevoke``: the key as it now is."""

    active = False

    @extend_schema(request=None, responses={200: dict})
    def post(self, request: Request, project_id: str, key: str) -> Response:
        self.found(project_id, key)
        changed = access_keys.set_active(project_id, key, active=self.active)
        return Response(access_keys.as_keen(changed))
