"""Ingestion routes: native, Segment-compatible and Keen-compatible."""

from django.urls import path

from .views.keen import KeenBatchView, KeenEventView
from .views.native import NativeEventsView
from .views.segment import SEGMENT_CALLS, SegmentView

urlpatterns = [
    path("api/v1/events", NativeEventsView.as_view(), name="events"),
    path("v1/batch", SegmentView.as_view(call_type=None), name="segment-batch"),
    *[
        path(f"v1/{call}", SegmentView.as_view(call_type=call), name=f"segment-{call}")
        for call in SEGMENT_CALLS
    ],
    path("3.0/projects/<str:project_id>/events", KeenBatchView.as_view(), name="keen-batch"),
    path(
        "3.0/projects/<str:project_id>/events/<str:collection>",
        KeenEventView.as_view(),
        name="keen-event",
    ),
]
