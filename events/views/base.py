"""What every ingestion view shares: parsers, write-key permission, and the
normalize -> keep the valid -> count and append flow (the per-key rate limit is
counted in the same Redis round trip as the append: ``events/stream.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from analytics_site.errors import PayloadTooLarge

from ..auth import KeyKindPermission
from ..envelope import Envelope, RequestEventIds
from ..ingest import IngestResult, enqueue, normalize_each, raise_if_nothing_valid
from ..limits import current_limits
from ..models import ApiKey
from ..parsers import EventJSONParser, EventTextParser
from ..stream import LockedOut, RateLimited
from ..throttling import (
    client_address,
    failure_keys,
    ingest_rate_window,
    rate_limited,
    refuse_if_locked_out,
)
from .negotiation import JSONAnswers


class IngestView(APIView):
    """Base for the three front doors; ``received_at`` and ``limits`` are fixed per request."""

    parser_classes = [EventJSONParser, EventTextParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONAnswers  # any Accept gets JSON, never a 406
    permission_classes = [KeyKindPermission]
    throttle_classes: list = []  # INGEST_RATE_LIMIT is counted with the append (enqueue)
    lockout_checked_on_append = True  # the key authentication leaves it to enqueue
    lockout_checked = False  # set once this request's lockout has been checked
    allowed_key_kinds = ("write",)

    def initial(self, request, *args, **kwargs):
        self.received_at = timezone.now()
        self.limits = current_limits()
        super().initial(request, *args, **kwargs)

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
        self.enqueue(result)
        raise_if_nothing_valid(result)
        return result

    def enqueue(self, result: IngestResult) -> None:
        """Check the client's failed-authentication lockout (deferred to here by the
        key authentication), count this request against the key's rate limit and append
        its valid events, in one Redis round trip; 429 with Retry-After past either
        limit, nothing taken."""
        counter, wait = ingest_rate_window(self.request.auth)
        address = client_address(self.request)
        lockout_key, _ = failure_keys(address)
        try:
            enqueue(result, limits=self.limits, rate_key=counter, lockout_key=lockout_key)
        except LockedOut:
            self.lockout_checked = True
            refuse_if_locked_out(address)  # raises the 429 with its Retry-After ...
            raise Throttled(
                1.0, detail="too many failed authentications from this address; retry in 1s"
            ) from None  # ... unless the window just ended
        except RateLimited:
            self.lockout_checked = True
            raise rate_limited("INGEST_RATE_LIMIT", wait) from None
        self.lockout_checked = True

    def handle_exception(self, exc):
        """An answer given before the append's script ran (403, 400, 413) must not tell
        a locked-out address that its key is valid: such an address gets its 429."""
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
