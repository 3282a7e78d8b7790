"""CORS for the browser door: django-cors-headers, with preflights answered 204.

Enabled only on ``settings.CORS_URLS_REGEX`` (the ingestion doors and Keen's query
routes); there every answer (2xx, 4xx, 5xx, Django's own 404/500 pages included, as
this middleware sits first) carries ``Access-Control-Allow-Origin: *``. Write keys are
public by design and no door uses cookies, so any origin is allowed, without credentials.
"""

from __future__ import annotations

from corsheaders.middleware import CorsMiddleware
from django.http import HttpRequest
from django.http.response import HttpResponseBase


class PreflightNoContentCorsMiddleware(CorsMiddleware):
    """django-cors-headers' middleware, answering a preflight ``204 No Content`` (the
    library answers 200) without authentication and without a Content-Length."""

    def check_preflight(self, request: HttpRequest) -> HttpResponseBase | None:
        response = super().check_preflight(request)
        if response is not None:
            response.status_code = 204
            response.headers.pop("Content-Length", None)
        return response
