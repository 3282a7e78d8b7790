"""Ingestion's domain errors: why a request's events were refused, with no HTTP in them.

The API's one exception handler maps each to its answer (``EventsTooLarge`` 413,
``NoValidEvents`` 400 listing the errors, ``RateLimitExceeded`` and
``AddressLockedOut`` 429 with Retry-After). Nothing of the request is taken when one
is raised.
"""

from __future__ import annotations

from typing import Any


class IngestError(Exception):
    """Base of the ingestion refusals; ``message`` says why, naming the limit."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EventsTooLarge(IngestError):
    """The batch, the request's events as stored, or every event is past its size limit."""


class NoValidEvents(IngestError):
    """No event of the request was valid; ``errors`` lists index, field and message."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("No event in the request was valid.")
        self.errors = errors


class RateLimitExceeded(IngestError):
    """The key's ``INGEST_RATE_LIMIT`` is used up; retry in ``wait`` seconds."""

    def __init__(self, message: str, *, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


class AddressLockedOut(IngestError):
    """The client's address has too many failed authentications; retry in ``wait`` seconds."""

    def __init__(self, message: str, *, wait: float) -> None:
        super().__init__(message)
        self.wait = wait
