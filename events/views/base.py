"""What every ingestion view shares: parsers, write-key permission, the per-request
values (``received_at``, limits, client address, request id) and the call of
``events.services.events_ingest``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..auth import KeyKindPermission
from ..errors import IngestError
from ..ingest import IngestResult
from ..limits import current_limits
from ..models import ApiKey
from ..parsers import EventJSONParser, EventTextParser
from ..services import EventGroup, events_ingest
from ..throttling import client_address, refuse_if_locked_out
from .negotiation import JSONAnswers


class IngestView(APIView):
    """Base for the three front doors; ``received_at`` and ``limits`` are fixed per request."""

    parser_classes = [EventJSONParser, EventTextParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONAnswers  # any Accept gets JSON, never a 406
    permission_classes = [KeyKindPermission]
    throttle_classes: list = []  # INGEST_RATE_LIMIT is counted with the append (the service)
    lockout_checked_on_append = True  # the key authentication leaves it to the service
    lockout_checked = False  # set once this request's lockout has been checked
    allowed_key_kinds = ("write",)
    access_permission = "writes"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self.received_at = timezone.now()
        self.limits = current_limits()
        super().initial(request, *args, **kwargs)

    def request_id(self) -> str | None:
        """The ``EVENT_ID_REQUEST_HEADER`` value, when that setting names a header."""
        header = settings.EVENT_ID_REQUEST_HEADER
        if not header:
            return None
        value = self.request.headers.get(header, "").strip()
        return value[:200] or None

    def ingest(
        self, groups: Sequence[EventGroup], *, indexed: bool, refuse_if_none_valid: bool = True
    ) -> list[IngestResult]:
        """:func:`~events.services.events_ingest` with this request's key, address,
        clock, limits and request id."""
        try:
            results = events_ingest(
                key=cast(ApiKey, self.request.auth),  # KeyKindPermission: an ApiKey
                address=client_address(self.request),
                groups=groups,
                indexed=indexed,
                received_at=self.received_at,
                limits=self.limits,
                request_id=self.request_id(),
                refuse_if_none_valid=refuse_if_none_valid,
            )
        except IngestError:
            self.lockout_checked = True  # the service refuses a locked-out address first
            raise
        self.lockout_checked = True
        return results

    def handle_exception(self, exc: Exception) -> Response:
        """An answer given before the service ran (403, 400) must not tell a locked-out
        address that its key is valid: such an address gets its 429."""
        # ``_auth`` only: reading ``auth`` would authenticate a request that never was.
        authenticated = isinstance(getattr(self.request, "_auth", None), ApiKey)
        if authenticated and not self.lockout_checked and not isinstance(exc, Throttled):
            try:
                refuse_if_locked_out(client_address(self.request))
            except Throttled as locked_out:
                exc = locked_out
            except RedisError:
                pass  # the original answer stands (a 503 if Redis itself is down)
        return super().handle_exception(exc)
