"""The package's exception types."""

from __future__ import annotations

__all__ = ["EmptyWindowError"]

_MESSAGE = "the moving average of an empty window is undefined: add an element first"


class EmptyWindowError(ValueError):
    """``getMovingAverage()`` was called before any element was added.

    A subclass of ValueError: ``except ValueError`` catches it too.
    """

    def __init__(self, message: str = _MESSAGE) -> None:
        super().__init__(message)
