"""Ingestion answers are JSON whatever the client's ``Accept`` says."""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class JSONAnswers(DefaultContentNegotiation):
    """Parsers are chosen as usual; the answer always uses the view's first renderer.

    SDKs send ``Accept`` headers of every kind (``*/*``, ``text/plain``, ``image/*``,
    none): an ingestion door answers all of them in JSON rather than a 406, and no
    request pays for parsing the header.
    """

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type
