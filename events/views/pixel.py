"""What the GET pixel views (Keen's and Segment's) share."""

from __future__ import annotations

from functools import cached_property

from rest_framework.exceptions import MethodNotAllowed

from ..pixels import decode_pixel_data


class PixelMixin:
    """For an :class:`~events.views.base.IngestView`: the ``?data=`` parameter decoded
    under the request's limits (400 naming ``data``, 413 past ``max_body_bytes``)."""

    def initial(self, request, *args, **kwargs):
        # 405 before authentication: a POST to a pixel path must not be read as a pixel.
        if request.method.lower() not in self.http_method_names:
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)

    @cached_property
    def pixel_message(self) -> object:
        return decode_pixel_data(
            self.request.query_params.get("data"), limit=self.limits.max_body_bytes
        )
