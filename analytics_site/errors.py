"""One error shape for the whole API, produced by one DRF exception handler.

Native shape::

    {"error": {"status": 400, "code": "invalid", "message": "...", "errors": [...]}}

Keen-compatible views (``error_style = "keen"``) get Keen's shape instead:
``{"message": "...", "error_code": "..."}``.
"""

from __future__ import annotations

from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request is too large."
    default_code = "too_large"


class InvalidEvents(APIException):
    """Every event of the request was rejected; ``errors`` lists index, field and message."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_events"

    def __init__(self, errors: list[dict], *, message: str | None = None, code: str | None = None):
        super().__init__(message or "No event in the request was valid.", code)
        self.errors = errors


class ServiceUnavailable(APIException):
    """A component the request needs is down; nothing of the request was accepted.

    Answered 503 with ``Retry-After`` so SDKs retry; never a 2xx for work not done.
    """

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"

    def __init__(self, detail: str, *, retry_after: int = 5) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


KEEN_ERROR_CODES = {
    400: "InvalidEventError",
    401: "InvalidApiKeyError",
    403: "InvalidApiKeyError",
    404: "ResourceNotFoundError",
    413: "EventTooLargeError",
    429: "RateLimitExceededError",
    503: "ServiceUnavailableError",
}


def _message(detail) -> str:
    if isinstance(detail, list):
        return "; ".join(_message(item) for item in detail)
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_message(value)}" for key, value in detail.items())
    return str(detail)


def unavailable_component(exc: Exception) -> ServiceUnavailable | None:
    """A 503 naming the component when ``exc`` means Cassandra or Redis (directly or
    through Celery's broker connection) is unreachable; nothing of the request was done."""
    from cassandra import OperationTimedOut, RequestExecutionException
    from cassandra.cluster import NoHostAvailable
    from kombu.exceptions import OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    if isinstance(exc, NoHostAvailable | OperationTimedOut | RequestExecutionException):
        component = "the analytics store (Cassandra)"
    elif isinstance(exc, RedisConnectionError | RedisTimeoutError | OperationalError):
        component = "the event queue and cache (Redis)"
    else:
        return None
    return ServiceUnavailable(
        f"{component} is unavailable ({type(exc).__name__}); retry later", retry_after=10
    )


def api_exception_handler(exc, context):
    """DRF's handler, then reshaped into the one error shape (or Keen's for Keen views).

    An unreachable Cassandra or Redis becomes a 503 with Retry-After, not a 500.
    """
    exc = unavailable_component(exc) or exc
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    view = context.get("view")
    code = getattr(exc, "get_codes", lambda: "error")()
    code = code if isinstance(code, str) else getattr(exc, "default_code", "invalid")
    message = _message(getattr(exc, "detail", response.data))
    if getattr(view, "error_style", None) == "keen":
        body = {
            "message": message,
            "error_code": KEEN_ERROR_CODES.get(response.status_code, "InternalServerError"),
        }
    else:
        body = {"error": {"status": response.status_code, "code": code, "message": message}}
        errors = getattr(exc, "errors", None)
        if errors is not None:
            body["error"]["errors"] = errors
    headers = _kept_headers(response)
    if getattr(exc, "retry_after", None):
        headers["Retry-After"] = str(exc.retry_after)
    return Response(body, status=response.status_code, headers=headers)


def _kept_headers(response: Response) -> dict[str, str]:
    return {
        name: response[name]
        for name in ("Retry-After", "WWW-Authenticate", "Allow")
        if response.has_header(name)
    }
