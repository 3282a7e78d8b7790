"""Plotly's JavaScript is served from the pinned PyPI package, and only that file."""

from __future__ import annotations

from pathlib import Path

from django.contrib.staticfiles import finders

from analytics_site.static_finders import PlotlyFinder


def test_the_plotly_bundle_is_found_locally() -> None:
    import plotly

    found = finders.find("plotly/plotly.min.js")
    assert found is not None
    path = Path(str(found))
    assert path.is_relative_to(Path(plotly.__file__).parent)
    assert path.stat().st_size > 1_000_000
    assert b"plotly.js" in path.read_bytes()[:2000]


def test_collectstatic_copies_only_the_bundle() -> None:
    finder = PlotlyFinder()
    listed = [(name, getattr(storage, "prefix", None)) for name, storage in finder.list(None)]
    assert listed == [("plotly.min.js", "plotly")]
    assert finder.find("plotly/widgetbundle.js") is None
    assert finder.find("plotly/widgetbundle.js", find_all=True) == []
