"""Rate limits as fixed-window counters in Redis: requests per key (queries via Django's
cache; ingestion counted with the append, ``events/stream.py``), and failed
authentications per client address (on the streams' Redis, so an ingestion request
checks them in the same round trip as its append).

``client_address`` is the one place that decides who the client is: ``REMOTE_ADDR``,
or behind a proxy listed in ``TRUSTED_PROXIES`` the nearest ``X-Forwarded-For`` hop
that proxy did not add itself. A header set by anyone else is never believed.
"""

from __future__ import annotations

import ipaddress
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from .models import ApiKey

if TYPE_CHECKING:
    from rest_framework.views import APIView

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _window(window: int) -> tuple[float, int]:
    now = time.time()
    return now, int(now // window) * window


def _count_hit(cache_key: str, window: int) -> int:
    """Add one to the counter ``cache_key`` (expiring after the window); its new value."""
    cache.add(cache_key, 0, timeout=window + 1)
    try:
        return cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=window + 1)
        return 1


class QueryRateThrottle(BaseThrottle):
    """At most ``QUERY_RATE_LIMIT`` query requests per window per key (apart from
    writes, which ``stream.append`` counts); 429 + Retry-After beyond."""

    rate_setting = "QUERY_RATE_LIMIT"
    scope = "query"

    def __init__(self) -> None:
        self.limit, self.window = getattr(settings, self.rate_setting)
        self._wait = 0.0

    def allow_request(self, request: Request, view: APIView) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey) or self.limit <= 0:
            return True
        now, window_start = _window(self.window)
        cache_key = f"ratelimit:{self.scope}:{key.key_hash[:24]}:{window_start}"
        if _count_hit(cache_key, self.window) <= self.limit:
            return True
        self._wait = max(1.0, window_start + self.window - now)
        return False

    def wait(self) -> float:
        return self._wait


def ingest_rate_window(key: ApiKey) -> tuple[str, float]:
    """The counter of ``key``'s ingestion requests in the current ``INGEST_RATE_LIMIT``
    window (counted by ``stream.append`` together with the events), and the seconds
    until that window ends (the Retry-After of a 429)."""
    _, window = settings.INGEST_RATE_LIMIT
    now, window_start = _window(window)
    counter = f"ratelimit:ingest:{key.key_hash[:24]}:{window_start}"
    return counter, max(1.0, window_start + window - now)


def rate_limit_message(setting: str, wait: float) -> str:
    """What a 429 for the per-key limit ``setting`` says: the limit and when to retry."""
    limit, window = getattr(settings, setting)
    return (
        f"rate limit of {limit} requests per {window}s exceeded for this key; "
        f"retry in {int(wait + 0.999)}s"
    )


def rate_limited(setting: str, wait: float) -> Throttled:
    """The 429 for a per-key limit, naming it and when to retry."""
    return Throttled(wait, detail=rate_limit_message(setting, wait))


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[_Network, ...]:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())


def _trusted(address: str, networks: tuple[_Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: HttpRequest | Request) -> str:
    """The client's address: ``REMOTE_ADDR``, unless that is a trusted proxy; then the
    nearest ``X-Forwarded-For`` hop (read right to left) that is not a trusted proxy.
    Worked out once per request (the authentication and the view both ask)."""
    django_request: Any = getattr(request, "_request", request)  # a DRF Request wraps it
    known = getattr(django_request, "_client_address", None)
    if known is None:
        known = django_request._client_address = _client_address(django_request)
    return known


def _client_address(request: HttpRequest) -> str:
    address = request.META.get("REMOTE_ADDR") or "unknown"
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not networks or not _trusted(address, networks):
        return address
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    for hop in (h.strip() for h in reversed(hops)):
        try:
            hop = str(ipaddress.ip_address(hop))
        except ValueError:
            break  # not an address a proxy of ours wrote: stop at the last one we trust
        address = hop
        if not _trusted(hop, networks):
            break
    return address


def failure_keys(address: str) -> tuple[str, str]:
    """The counter of ``address``'s failed authentications and the time its window
    opened, on the ingestion streams' Redis (so ``stream.append`` can check it)."""
    _, window = settings.AUTH_FAILURE_RATE_LIMIT
    base = f"authfail:{window}:{address[:64]}"
    return base, f"{base}:since"


def lockout(address: str) -> tuple[float, str] | None:
    """(seconds to wait, message) when ``address`` has had ``AUTH_FAILURE_RATE_LIMIT``
    failed authentications in its current window (which opens at its first failure),
    else None. Raises RedisError when the streams' Redis is unreachable."""
    from .stream import client

    limit, window = settings.AUTH_FAILURE_RATE_LIMIT
    if limit <= 0:
        return None
    count, since = client().mget(failure_keys(address))
    if int(count or 0) < limit:
        return None
    now = time.time()
    wait = max(1.0, float(since or now) + window - now)
    message = (
        f"too many failed authentications from this address: the limit is {limit} "
        f"per {window}s; retry in {int(wait + 0.999)}s"
    )
    return wait, message


def refuse_if_locked_out(address: str) -> None:
    """Throttled (429, Retry-After) when ``address`` is locked out (:func:`lockout`);
    any key it presents is then refused, so a correct guess is not revealed."""
    locked = lockout(address)
    if locked is not None:
        raise Throttled(locked[0], detail=locked[1])


def record_auth_failure(address: str) -> None:
    """Count one failed authentication of ``address`` in its current window."""
    from .stream import client

    limit, window = settings.AUTH_FAILURE_RATE_LIMIT
    if limit > 0:
        count_key, since_key = failure_keys(address)
        pipe = client().pipeline(transaction=True)
        pipe.set(since_key, repr(time.time()), nx=True, ex=window + 1)
        pipe.set(count_key, 0, nx=True, ex=window + 1)
        pipe.incr(count_key)
        pipe.execute()


def reset_auth_failures(address: str) -> None:
    """Forget ``address``'s failed authentications."""
    from .stream import client

    client().delete(*failure_keys(address))
