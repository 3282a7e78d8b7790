"""Query routes: Keen-compatible and native."""

from django.urls import path

from .views import KeenQueryView, NativeQueryView

urlpatterns = [
    path(
        "3.0/projects/<str:project_id>/queries/<str:analysis>",
        KeenQueryView.as_view(),
        name="keen-query",
    ),
    path("api/v1/insights/<str:analysis>", NativeQueryView.as_view(), name="insights-query"),
]
