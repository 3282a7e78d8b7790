"""The abstract interface every moving-average engine implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from movingavg.engines.validation import Element

__all__ = ["MovingAverageInterface"]

_ALIASES = {
    "add_element": "addElement",
    "get_moving_average": "getMovingAverage",
    "get_elements": "getElements",
}


class MovingAverageInterface(ABC):
    """A moving average fed one element at a time.

    Contract, for every implementation:

    - ``addElement(value)`` accepts int, float and Fraction (see
      ``movingavg.engines.validation``), raises TypeError for other types and ValueError for
      NaN/±inf, and leaves the engine unchanged when it raises. O(1).
    - ``getMovingAverage()`` returns the average as a float, O(1), or amortised O(1) where
      an engine says so (one call may then cost O(k) after k additions); before the first
      element it raises ``EmptyWindowError`` (a ValueError).
    - ``getElements()`` returns the retained elements, oldest first, as a live read-only
      view.
    - ``add_element``, ``get_moving_average`` and ``get_elements`` are PEP 8 aliases, bound
      to the same functions (no extra call per element).

    Engines are not thread-safe: guard an instance shared between threads with a lock.
    """

    __slots__ = ()

    @abstractmethod
    def addElement(self, value: Element) -> None:
        """Add ``value`` as the newest element."""

    @abstractmethod
    def getMovingAverage(self) -> float:
        """Return the current average; EmptyWindowError before the first element."""

    @abstractmethod
    def getElements(self) -> Sequence[Element]:
        """Return the retained elements, oldest first, as a read-only view."""

    def add_element(self, value: Element) -> None:
        """PEP 8 alias of ``addElement``."""
        self.addElement(value)

    def get_moving_average(self) -> float:
        """PEP 8 alias of ``getMovingAverage``."""
        return self.getMovingAverage()

    def get_elements(self) -> Sequence[Element]:
        """PEP 8 alias of ``getElements``."""
        return self.getElements()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Point each alias straight at the subclass's implementation, so the alias costs
        # no more than the original; an alias the subclass defines itself is kept.
        for alias, name in _ALIASES.items():
            if name in cls.__dict__ and alias not in cls.__dict__:
                setattr(cls, alias, cls.__dict__[name])
