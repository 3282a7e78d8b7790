"""What every ingestion view shares: parsers, write-key permission, per-key rate limit."""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import Throttled
from rest_framework.views import APIView

from analytics_site.errors import PayloadTooLarge

from ..auth import KeyKindPermission
from ..limits import current_limits
from ..parsers import EventJSONParser, EventTextParser
from ..throttling import PerKeyRateThrottle


class IngestView(APIView):
    parser_classes = [EventJSONParser, EventTextParser]
    permission_classes = [KeyKindPermission]
    throttle_classes = [PerKeyRateThrottle]
    allowed_key_kinds = ("write",)

    def throttled(self, request, wait):
        limit, window = settings.INGEST_RATE_LIMIT
        raise Throttled(
            wait,
            detail=f"rate limit of {limit} requests per {window}s exceeded for this key; "
            f"retry in {int(wait + 0.999)}s",
        )


def check_batch_size(items: list) -> None:
    """413 when a batch holds more events than the configured limit."""
    limit = current_limits().max_batch_events
    if len(items) > limit:
        raise PayloadTooLarge(f"batch: {len(items)} events exceed the limit of {limit} per batch")
