"""What every ingestion view shares: parsers, write-key permission, per-key rate limit,
and the normalize -> keep the valid -> enqueue flow."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.conf import settings
from django.utils import timezone
from rest_framework.exceptions import Throttled
from rest_framework.views import APIView

from analytics_site.errors import PayloadTooLarge

from ..auth import KeyKindPermission
from ..envelope import Envelope, RequestEventIds
from ..ingest import IngestResult, enqueue, normalize_each, raise_if_nothing_valid
from ..limits import current_limits
from ..parsers import EventJSONParser, EventTextParser
from ..throttling import PerKeyRateThrottle


class IngestView(APIView):
    """Base for the three front doors; ``received_at`` and ``limits`` are fixed per request."""

    parser_classes = [EventJSONParser, EventTextParser]
    permission_classes = [KeyKindPermission]
    throttle_classes = [PerKeyRateThrottle]
    allowed_key_kinds = ("write",)

    def initial(self, request, *args, **kwargs):
        self.received_at = timezone.now()
        self.limits = current_limits()
        super().initial(request, *args, **kwargs)

    def throttled(self, request, wait):
        limit, window = settings.INGEST_RATE_LIMIT
        raise Throttled(
            wait,
            detail=f"rate limit of {limit} requests per {window}s exceeded for this key; "
            f"retry in {int(wait + 0.999)}s",
        )

    def check_batch_size(self, items: Sequence[object]) -> None:
        """413 when a batch holds more events than the configured limit."""
        limit = self.limits.max_batch_events
        if len(items) > limit:
            raise PayloadTooLarge(
                f"batch: {len(items)} events exceed the limit of {limit} per batch"
            )

    def request_id(self) -> str | None:
        """The ``EVENT_ID_REQUEST_HEADER`` value, when that setting names a header."""
        header = settings.EVENT_ID_REQUEST_HEADER
        if not header:
            return None
        value = self.request.headers.get(header, "").strip()
        return value[:200] or None

    def normalize(
        self,
        items: Sequence[object],
        normalizer: Callable[..., Envelope],
        *,
        indexed: bool,
        **options: object,
    ) -> IngestResult:
        """Run a door's normalizer on every item, filling in the per-request arguments."""
        project_id = self.request.auth.project_id
        ids = RequestEventIds(project_id, self.request_id())
        return normalize_each(
            items,
            lambda raw, index: normalizer(
                raw,
                project_id=project_id,
                received_at=self.received_at,
                index=index,
                limits=self.limits,
                new_id=ids.next,
                **options,
            ),
            indexed=indexed,
            limits=self.limits,
        )

    def accept(
        self,
        items: Sequence[object],
        normalizer: Callable[..., Envelope],
        *,
        indexed: bool,
        **options: object,
    ) -> IngestResult:
        """Normalize, answer 400/413 if nothing is valid, else enqueue the valid events."""
        result = self.normalize(items, normalizer, indexed=indexed, **options)
        raise_if_nothing_valid(result)
        enqueue(result.accepted, limits=self.limits, stored_bytes=result.stored_bytes)
        return result
