"""Plotly's JavaScript, served locally from the pinned ``plotly`` PyPI package (never a
CDN: the machines that run this may be offline)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, overload

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PREFIX = "plotly"
BUNDLE = "plotly.min.js"


class PlotlyFinder(BaseFinder):
    """Finds ``plotly/plotly.min.js`` (and only it) in the installed ``plotly`` package,
    so ``collectstatic`` copies one file, not the package's datasets."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        import plotly

        self.storage = FileSystemStorage(location=Path(plotly.__file__).parent / "package_data")
        self.storage.prefix = PREFIX  # type: ignore[attr-defined]  # read by collectstatic

    def check(self, **kwargs: Any) -> list:
        return []

    @overload
    def find(self, path: str, find_all: Literal[False] = False) -> str | None: ...
    @overload
    def find(self, path: str, find_all: Literal[True]) -> list[str]: ...
    def find(self, path: str, find_all: bool = False) -> str | list[str] | None:
        """The bundle's file path for ``plotly/plotly.min.js``; nothing for any other."""
        if path != f"{PREFIX}/{BUNDLE}":
            return [] if find_all else None
        match = self.storage.path(BUNDLE)
        return [match] if find_all else match

    def list(
        self, ignore_patterns: Iterable[str] | None
    ) -> Iterator[tuple[str, FileSystemStorage]]:
        yield BUNDLE, self.storage
