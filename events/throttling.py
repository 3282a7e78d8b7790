"""Per-key rate limiting: a fixed-window counter in Redis (via Django's cache)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from .models import ApiKey


class PerKeyRateThrottle(BaseThrottle):
    """At most ``INGEST_RATE_LIMIT`` requests per window per key; 429 + Retry-After beyond."""

    def __init__(self) -> None:
        self.limit, self.window = settings.INGEST_RATE_LIMIT
        self._wait = 0.0

    def allow_request(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey) or self.limit <= 0:
            return True
        now = time.time()
        window_start = int(now // self.window) * self.window
        cache_key = f"ratelimit:{key.key_hash[:24]}:{window_start}"
        cache.add(cache_key, 0, timeout=self.window + 1)
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.add(cache_key, 1, timeout=self.window + 1)
            count = 1
        if count <= self.limit:
            return True
        self._wait = max(1.0, window_start + self.window - now)
        return False

    def wait(self) -> float:
        return self._wait
