"""Ingestion answers are JSON whatever the client's ``Accept`` says."""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation


class JSONAnswers(DefaultContentNegotiation):
    """Parsers are chosen as usual; the answer always uses the view's first renderer.

    SDKs send ``Accept`` headers of every kind (``*/*``, ``text/plain``, ``image/*``,
    none): an ingestion door answers all of them in JSON rather than a 406, and no
    request pays for parsing the header.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
