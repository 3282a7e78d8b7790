"""What the GET pixel views (Keen's and Segment's) share."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from rest_framework.exceptions import MethodNotAllowed
from rest_framework.request import Request

from ..pixels import decode_pixel_data
from .base import IngestView


class PixelMixin(IngestView):
    """Mixed into a door's view: the ``?data=`` parameter decoded under the request's
    limits (400 naming ``data``, 413 past ``max_body_bytes``)."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # 405 before authentication: a POST to a pixel path must not be read as a pixel.
        method = request.method or ""
        if method.lower() not in self.http_method_names:
            raise MethodNotAllowed(method)
        super().initial(request, *args, **kwargs)

    @cached_property
    def pixel_message(self) -> object:
        return decode_pixel_data(
            self.request.query_params.get("data"), limit=self.limits.max_body_bytes
        )
