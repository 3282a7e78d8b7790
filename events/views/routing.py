"""One Keen URL, two or three views: Keen reads a collection's schema with a GET on the same path
its clients write events to (and its image beacon GETs, with ``data``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

View = Callable[..., HttpResponseBase]


def by_method(*, read: View, write: View, delete: View | None = None) -> View:
    """A view that hands a GET without ``data`` (a schema read) to ``read``, a DELETE to
    ``delete`` if given, and every other request (POSTs, the image beacon's GET with
    ``data``, OPTIONS) to ``write``."""

    @csrf_exempt
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method in ("GET", "HEAD") and "data" not in request.GET:
            return read(request, *args, **kwargs)
        if request.method == "DELETE" and delete is not None:
            return delete(request, *args, **kwargs)
        return write(request, *args, **kwargs)

    # The OpenAPI schema documents the write view (the schema reads are in the README).
    view.cls = write.cls  # type: ignore[attr-defined]
    view.initkwargs = write.initkwargs  # type: ignore[attr-defined]
    return view
