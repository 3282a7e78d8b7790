"""A live, read-only view of an engine's window (what ``getElements()`` returns)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Protocol, overload

from movingavg.engines.validation import Element

__all__ = ["WindowView"]


class _HasWindow(Protocol):
    def _window(self) -> tuple[deque[Element], int]:
        """Return the engine's deque and how many leading items are not in the window."""
        ...


class WindowView(Sequence[Element]):
    """The elements of an engine's window, oldest first; reflects later updates.

    Supports ``len``, indexing, slicing (returns a list), iteration (both ways), ``in``,
    ``index``, ``count`` and ``==`` against another view, a deque, a list or a tuple with the
    same elements. It has no mutating methods. Like a deque, it must not be iterated while
    the engine is being updated. O(1) to create. Indexing is O(1) at the newest end; at
    the oldest end too, except for an SMA read before its next ``getMovingAverage``,
    when up to n + 64 evicted elements still sit in front of the window (up to O(n)).
    """

    __slots__ = ("_owner",)

    def __init__(self, owner: _HasWindow) -> None:
        self._owner = owner

    def __len__(self) -> int:
        items, skip = self._owner._window()
        return len(items) - skip

    @overload
    def __getitem__(self, index: int) -> Element: ...

    @overload
    def __getitem__(self, index: slice) -> list[Element]: ...

    def __getitem__(self, index: int | slice) -> Element | list[Element]:
        items, skip = self._owner._window()
        if isinstance(index, slice):
            return list(islice(items, skip, None))[index] if skip else list(items)[index]
        size = len(items) - skip
        position = index + size if index < 0 else index
        if not 0 <= position < size:
            raise IndexError("window index out of range")
        return items[position + skip]

    def __iter__(self) -> Iterator[Element]:
        items, skip = self._owner._window()
        return islice(items, skip, None) if skip else iter(items)

    def __reversed__(self) -> Iterator[Element]:
        items, skip = self._owner._window()
        return islice(reversed(items), len(items) - skip)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WindowView | deque | list | tuple):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"WindowView({list(self)!r})"
