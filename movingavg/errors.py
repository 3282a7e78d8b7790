"""The package's exception types."""

from __future__ import annotations

__all__ = ["EmptyWindowError"]


class EmptyWindowError(ValueError):
    """``getMovingAverage()`` was called before any element was added.

    A subclass of ValueError: ``except ValueError`` catches it too.
    """
