"""The base of Keen's non-write endpoints (queries, schema, saved queries, keys): Keen's
key header, Keen's error shape, and the per-key query rate limit."""

from __future__ import annotations

from typing import NoReturn, cast

from rest_framework.request import Request
from rest_framework.views import APIView

from ..auth import KeenKeyAuthentication, KeyKindPermission
from ..models import ApiKey
from ..throttling import QueryRateThrottle, rate_limited


class KeenApiView(APIView):
    """``Authorization: <key>`` or ``?api_key=``, of a kind in ``allowed_key_kinds`` (the
    master key always) and of the URL's project; at most ``QUERY_RATE_LIMIT`` requests
    per key (429 with Retry-After beyond); errors as ``{message, error_code}``."""

    authentication_classes = [KeenKeyAuthentication]
    permission_classes = [KeyKindPermission]
    throttle_classes = [QueryRateThrottle]
    allowed_key_kinds: tuple[str, ...] = ("read",)
    access_permission: str | None = None  # what an access key needs here (None: refused)
    error_style = "keen"

    def throttled(self, request: Request, wait: float) -> NoReturn:  # QueryRateThrottle waits
        raise rate_limited("QUERY_RATE_LIMIT", wait)

    @property
    def key(self) -> ApiKey:
        """The request's key (KeyKindPermission admits only an ApiKey)."""
        return cast(ApiKey, self.request.auth)
