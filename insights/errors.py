"""The insights domain errors. The query side raises these, never HTTP errors; the one
DRF exception handler (``analytics_site.errors``) answers them (400 for a QueryError)."""

from __future__ import annotations


class QueryError(ValueError):
    """A query parameter that cannot be used: names the parameter and the rule.

    Also raised when a query would read beyond a bound (raw days, raw events, unique
    ids): the caller must narrow it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")
