"""API-key authentication for the three front doors, and the key-kind permission.

A key authenticates as ``request.auth`` (an ``ApiKey`` with its project);
``request.user`` stays None. Missing or unknown keys are 401; a key of the wrong
kind or project is 403 (see ``KeyKindPermission`` and the views). Failed
authentications are counted per client address: past ``AUTH_FAILURE_RATE_LIMIT``
every key that address presents gets 429 with Retry-After until the window ends.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, ParseError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from .keys import hash_key
from .models import ApiKey

if TYPE_CHECKING:
    from rest_framework.views import APIView
from .throttling import client_address, record_auth_failure, refuse_if_locked_out

_KEY_CACHE_MAX = 10_000
_key_cache: dict[str, tuple[float, ApiKey]] = {}


def lookup_key(plaintext: str) -> ApiKey:
    """The active key with this plaintext, or AuthenticationFailed.

    Found keys are remembered in this process for ``API_KEY_CACHE_SECONDS``, so a
    revocation takes effect within that time; unknown keys are never cached.
    """
    key_hash = hash_key(plaintext.strip())
    now = time.monotonic()
    cached = _key_cache.get(key_hash)
    if cached is not None and cached[0] > now:
        return cached[1]
    try:
        key = ApiKey.objects.select_related("project").get(
            key_hash=key_hash, revoked_at__isnull=True
        )
    except ApiKey.DoesNotExist:
        _key_cache.pop(key_hash, None)
        raise AuthenticationFailed("the API key is not valid or has been revoked") from None
    ttl = settings.API_KEY_CACHE_SECONDS
    if ttl > 0:
        if len(_key_cache) >= _KEY_CACHE_MAX:
            _key_cache.clear()
        _key_cache[key_hash] = (now + ttl, key)
    return key


def forget_cached_keys() -> None:
    """Drop every remembered key (tests; a process that must see a revocation at once)."""
    _key_cache.clear()


def forget_cached_key(key_hash: str) -> None:
    """Drop one remembered key: this process sees its change at once (the others
    within ``API_KEY_CACHE_SECONDS``)."""
    _key_cache.pop(key_hash, None)


class _KeyAuthentication(BaseAuthentication):
    scheme = "Bearer"

    def authenticate_header(self, request: Request) -> str:  # makes DRF answer 401, not 403
        return f'{self.scheme} realm="api"'

    def extract(self, request: Request) -> str | None:
        raise NotImplementedError

    def authenticate(self, request: Request) -> tuple[None, ApiKey] | None:
        address = client_address(request)
        try:
            plaintext = self.extract(request)
        except AuthenticationFailed:
            refuse_if_locked_out(address)
            record_auth_failure(address)
            raise
        if not plaintext:
            return None
        # An ingestion view checks the lockout in the same round trip as its append.
        view = (getattr(request, "parser_context", None) or {}).get("view")
        deferred = getattr(view, "lockout_checked_on_append", False)
        if not deferred:
            refuse_if_locked_out(address)
        try:
            key = lookup_key(plaintext)
        except AuthenticationFailed:
            if deferred:
                refuse_if_locked_out(address)
            record_auth_failure(address)
            raise
        return (None, key)


class BearerKeyAuthentication(_KeyAuthentication):
    """Native API: ``Authorization: Bearer <key>`` or ``X-Api-Key: <key>``."""

    def extract(self, request: Request) -> str | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header[:7].lower() == "bearer ":
            return header[7:].strip()
        return request.META.get("HTTP_X_API_KEY", "").strip() or None


class NativeWriteKeyAuthentication(BearerKeyAuthentication):
    """The native ingestion door: as :class:`BearerKeyAuthentication`, else
    ``?api_key=<write key>`` (``navigator.sendBeacon`` cannot set headers; write keys
    are public by design). The query API keeps headers only."""

    def extract(self, request: Request) -> str | None:
        return super().extract(request) or request.query_params.get("api_key", "").strip() or None


class SegmentKeyAuthentication(_KeyAuthentication):
    """Segment: HTTP Basic with the write key as the user, or ``writeKey`` in the body."""

    scheme = "Basic"

    def extract(self, request: Request) -> str | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise AuthenticationFailed("the Basic credentials are not valid base64") from None
            return decoded.split(":", 1)[0]
        if header[:7].lower() == "bearer ":
            return header[7:].strip()
        data = self.message(request)
        if isinstance(data, dict) and isinstance(data.get("writeKey"), str):
            return data["writeKey"]
        return None

    def message(self, request: Request) -> object:
        """Where ``writeKey`` may be: the parsed body."""
        return request.data


class SegmentPixelKeyAuthentication(SegmentKeyAuthentication):
    """Segment's pixel API: ``writeKey`` inside the message decoded from ``?data=``
    (the view's ``pixel_message``, which answers 400 naming ``data`` if it is bad)."""

    def message(self, request: Request) -> object:
        message = request.parser_context["view"].pixel_message
        if not isinstance(message, dict):
            raise ParseError("data: must be a JSON object once decoded")
        return message


class KeenKeyAuthentication(_KeyAuthentication):
    """Keen: ``Authorization: <key>`` (no scheme) or ``?api_key=<key>``."""

    scheme = "Keen"

    def extract(self, request: Request) -> str | None:
        header = request.META.get("HTTP_AUTHORIZATION", "").strip()
        if header:
            return header.split(" ", 1)[-1] if " " in header else header
        return request.query_params.get("api_key") or None


class KeyKindPermission(BasePermission):
    """Allow keys whose kind is in the view's ``allowed_key_kinds`` (master always), and
    access keys whose ``permitted`` holds the view's ``access_permission``."""

    message = "this key may not be used here"

    def has_permission(self, request: Request, view: APIView) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return False
        allowed = getattr(view, "allowed_key_kinds", ())
        if key.kind == ApiKey.Kind.ACCESS:
            grant = getattr(view, "access_permission", None)
            if grant is None or grant not in key.permitted:
                self.message = (
                    f"this access key is not permitted {grant}"
                    if grant
                    else "an access key cannot be used here; use the master key"
                )
                return False
        elif key.kind != ApiKey.Kind.MASTER and key.kind not in allowed:
            self.message = (
                f"a {key.kind} key cannot be used here; use a "
                f"{' or '.join(allowed)} key (or the master key)"
                if allowed
                else f"a {key.kind} key cannot be used here; use the master key"
            )
            return False
        project_id = view.kwargs.get("project_id")
        if project_id is not None and project_id != key.project_id:
            self.message = f"this key does not belong to project {project_id}"
            return False
        return True
