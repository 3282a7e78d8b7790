"""Ingestion routes: native, Segment-compatible and Keen-compatible."""

from django.urls import path

from .normalize import SEGMENT_CALL_TYPES
from .views.collections import KeenCollectionsView, KeenCollectionView
from .views.keen import KeenBatchView, KeenEventView
from .views.native import NativeEventsView
from .views.routing import by_method
from .views.segment import SegmentPixelView, SegmentView

# Segment's routes, each also with a trailing slash (as some official SDKs send them;
# left out of the schema): /v1/import is /v1/batch under the name other SDKs post to.
_SEGMENT_ROUTES = [
    ("v1/batch", SegmentView, None, "segment-batch"),
    ("v1/import", SegmentView, None, "segment-import"),
    *[(f"v1/{call}", SegmentView, call, f"segment-{call}") for call in SEGMENT_CALL_TYPES],
    *[(f"v1/pixel/{c}", SegmentPixelView, c, f"segment-pixel-{c}") for c in SEGMENT_CALL_TYPES],
]

urlpatterns = [
    path("api/v1/events", NativeEventsView.as_view(), name="events"),
    *[
        path(route, view.as_view(call_type=call), name=name)
        for route, view, call, name in _SEGMENT_ROUTES
    ],
    *[
        path(f"{route}/", view.as_view(call_type=call, schema=None), name=f"{name}-slash")
        for route, view, call, name in _SEGMENT_ROUTES
    ],
    path(
        "3.0/projects/<str:project_id>/events",
        by_method(read=KeenCollectionsView.as_view(), write=KeenBatchView.as_view()),
        name="keen-batch",
    ),
]
# Keen's collection URL (writes, schema reads and deletions) is routed by insights.urls,
# the layer that sees all three views: KEEN_COLLECTION_ROUTE and its views.
KEEN_COLLECTION_ROUTE = "3.0/projects/<str:project_id>/events/<str:collection>"
KEEN_COLLECTION_READ = KeenCollectionView.as_view()
KEEN_COLLECTION_WRITE = KeenEventView.as_view()
