"""One error shape for the whole API, produced by one DRF exception handler.

Native shape::

    {"error": {"status": 400, "code": "invalid", "message": "...", "errors": [...]}}

Keen-compatible views (``error_style = "keen"``) get Keen's shape instead:
``{"message": "...", "error_code": "..."}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.exceptions import APIException, Throttled, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from events import errors as events_errors
from events.json_parsing import PayloadTooLarge as PayloadTooLarge  # answered 413 (DOMAIN_ERRORS)
from insights import errors as insights_errors


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request is too large."
    default_code = "too_large"


class InvalidEvents(APIException):
    """Every event of the request was rejected; ``errors`` lists index, field and message."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_events"

    def __init__(
        self, errors: list[dict[str, Any]], *, message: str | None = None, code: str | None = None
    ) -> None:
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
    405: "MethodNotAllowedError",
    406: "NotAcceptableError",
    413: "EventTooLargeError",
    415: "UnsupportedMediaTypeError",
    429: "RateLimitExceededError",
    500: "InternalServerError",
    503: "ServiceUnavailableError",
}


def _message(detail: object) -> str:
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


def _throttled(exc: events_errors.RateLimitExceeded | events_errors.AddressLockedOut) -> Throttled:
    return Throttled(exc.wait, detail=exc.message)


# The domain errors (raised by services, never HTTP) and the API answer of each: one
# entry per error class; a subclass is answered as its nearest listed base.
DOMAIN_ERRORS: dict[type[Exception], Callable[[Any], APIException]] = {
    PayloadTooLarge: lambda exc: RequestTooLarge(str(exc)),
    events_errors.EventsTooLarge: lambda exc: RequestTooLarge(exc.message),
    events_errors.NoValidEvents: lambda exc: InvalidEvents(exc.errors),
    events_errors.RateLimitExceeded: _throttled,
    events_errors.AddressLockedOut: _throttled,
    insights_errors.QueryError: lambda exc: ValidationError(f"{exc.field}: {exc.message}"),
}


def as_api_exception(exc: Exception) -> Exception:
    """``exc`` as the APIException the API answers it with: a domain error through
    :data:`DOMAIN_ERRORS`, an unreachable store as a 503; anything else unchanged."""
    for cls in type(exc).__mro__:
        answer = DOMAIN_ERRORS.get(cls)
        if answer is not None:
            return answer(exc)
    return unavailable_component(exc) or exc


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, then reshaped into the one error shape (or Keen's for Keen views).

    Domain errors are answered as :data:`DOMAIN_ERRORS` says; an unreachable Cassandra
    or Redis becomes a 503 with Retry-After, not a 500.
    """
    original, exc = exc, as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    view = context.get("view")
    code = getattr(exc, "get_codes", lambda: "error")()
    code = code if isinstance(code, str) else getattr(exc, "default_code", "invalid")
    message = _message(getattr(exc, "detail", response.data))
    if getattr(view, "error_style", None) == "keen":
        errors = getattr(exc, "errors", None) or []
        if errors:  # Keen's shape has no list: the message names each field
            message += " " + "; ".join(f"{e['field']}: {e['message']}" for e in errors[:20])
        body: dict[str, Any] = {
            "message": message,
            "error_code": keen_error_code(original, response),
        }
    else:
        body = {"error": {"status": response.status_code, "code": code, "message": message}}
        errors = getattr(exc, "errors", None)
        if errors is not None:
            body["error"]["errors"] = errors
    headers = _kept_headers(response)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    return Response(body, status=response.status_code, headers=headers)


def keen_error_code(exc: Exception, response: Response) -> str:
    """Keen's ``error_code``: ``TimeframeDefinitionError`` for a timeframe Keen would
    refuse, ``BadRequestError`` for another query parameter, else by status."""
    if isinstance(exc, insights_errors.QueryError):
        timeframe = any(part.startswith("timeframe") for part in exc.field.split("."))
        return "TimeframeDefinitionError" if timeframe else "BadRequestError"
    return KEEN_ERROR_CODES.get(response.status_code, "InternalServerError")


def _kept_headers(response: Response) -> dict[str, str]:
    return {
        name: response[name]
        for name in ("Retry-After", "WWW-Authenticate", "Allow")
        if response.has_header(name)
    }


# --- Errors outside the DRF views (unrouted paths, uncaught exceptions) -----------------
#
# Django answers these with its HTML pages; on the API's paths they get the API's JSON
# shape instead, chosen by path prefix: Keen's on ``/3.0/``, the native shape on
# ``/api/`` and on Segment's ``/v1/`` (as the Segment views' handled errors do).
# Registered as ``handler400/403/404/500`` in ``analytics_site/urls.py``.

_HANDLED_CODES = {400: "invalid", 403: "permission_denied", 404: "not_found", 500: "error"}
_DEFAULT_MESSAGES = {
    400: "The request is malformed.",
    403: "You do not have permission to perform this action.",
    500: "Internal server error: the request failed on our side and nothing of it was done.",
}


def api_style(path: str) -> str | None:
    """``"keen"`` for Keen's ``/3.0/``, ``"native"`` for ``/api/`` and Segment's ``/v1/``,
    None for the rest (admin, docs pages), which keep Django's pages."""
    if path.startswith("/3.0/"):
        return "keen"
    if path.startswith(("/api/", "/v1/")):
        return "native"
    return None


def json_error(style: str, status_code: int, message: str) -> JsonResponse:
    """The API's error shape (Keen's when ``style`` is ``"keen"``) as a plain response."""
    if style == "keen":
        body: dict[str, Any] = {
            "message": message,
            "error_code": KEEN_ERROR_CODES.get(status_code, "InternalServerError"),
        }
    else:
        code = _HANDLED_CODES.get(status_code, "error")
        body = {"error": {"status": status_code, "code": code, "message": message}}
    return JsonResponse(body, status=status_code)


def _handler(
    status_code: int, fallback: Callable[..., HttpResponse]
) -> Callable[..., HttpResponse]:
    def handler(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
        style = api_style(request.path)
        if style is None:
            return fallback(request) if exception is None else fallback(request, exception)
        if status_code == 404:
            message = f"Not found: no endpoint at {request.path[:200]!r}."
        else:
            message = _DEFAULT_MESSAGES[status_code]
        return json_error(style, status_code, message)

    handler.__name__ = f"handler{status_code}"
    handler.__doc__ = f"Django's handler{status_code}: JSON on the API's paths (see above)."
    return handler


bad_request = _handler(400, defaults.bad_request)
permission_denied = _handler(403, defaults.permission_denied)
page_not_found = _handler(404, defaults.page_not_found)
server_error = _handler(500, defaults.server_error)
