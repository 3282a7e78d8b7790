"""What the native data-lifecycle endpoints share (deletions, exports, retention): the
master key by Bearer, the requester's name for the audit, and request fields."""

from __future__ import annotations

from typing import cast

from rest_framework import serializers
from rest_framework.views import APIView

from events.auth import BearerKeyAuthentication, KeyKindPermission
from events.models import ApiKey
from events.throttling import QueryRateThrottle

from .errors import QueryError
from .queries import event_collection_of


def requester(key: ApiKey) -> str:
    """Who asked, as the audit records it (never the key itself)."""
    return f"{key.kind} key {key.prefix}… (id {key.pk})"


class TimeframeField(serializers.Serializer):
    """``{"start", "end"}``, ISO 8601, start before end."""

    start = serializers.DateTimeField()
    end = serializers.DateTimeField()

    def validate(self, attrs: dict) -> dict:
        if attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError({"start": "must be before end"})
        return attrs


def checked_event(value: str) -> str:
    """An ``event`` field's name, checked as a query's event collection."""
    try:
        return event_collection_of(value, field="event")
    except QueryError as error:
        raise serializers.ValidationError(error.message) from None


class MasterKeyView(APIView):
    """``Authorization: Bearer <master key>`` only; the query rate limit per key."""

    authentication_classes = [BearerKeyAuthentication]
    permission_classes = [KeyKindPermission]
    throttle_classes = [QueryRateThrottle]
    allowed_key_kinds: tuple[str, ...] = ()  # the master key only

    @property
    def key(self) -> ApiKey:
        return cast(ApiKey, self.request.auth)
