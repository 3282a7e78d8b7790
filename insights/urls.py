"""Query routes: Keen-compatible and native."""

from django.urls import path

from events.urls import KEEN_COLLECTION_READ, KEEN_COLLECTION_ROUTE, KEEN_COLLECTION_WRITE
from events.views.routing import by_method

from .access_key_views import AccessKeyActivationView, AccessKeysView, AccessKeyView
from .dataset_views import DatasetResultsView, DatasetsView, DatasetView
from .deletion_views import DeletionsView, DeletionView, KeenDeleteEventsView
from .export_views import ExportFileView, ExportResumeView, ExportsView, ExportView
from .retention_views import RetentionView
from .saved_query_views import SavedQueriesView, SavedQueryResultView, SavedQueryView
from .views import ExtractionEventsView, ExtractionJobView, KeenQueryView, NativeQueryView

SAVED = "3.0/projects/<str:project_id>/queries/saved"
KEYS = "3.0/projects/<str:project_id>/keys"
DATASETS = "3.0/projects/<str:project_id>/datasets"

urlpatterns = [  # the saved-query routes first: "saved" is not an analysis
    path(
        KEEN_COLLECTION_ROUTE,
        by_method(
            read=KEEN_COLLECTION_READ,
            write=KEEN_COLLECTION_WRITE,
            delete=KeenDeleteEventsView.as_view(),
        ),
        name="keen-event",
    ),
    path("api/v1/deletions", DeletionsView.as_view(), name="deletions"),
    path("api/v1/deletions/<int:deletion_id>", DeletionView.as_view(), name="deletion"),
    path("api/v1/retention", RetentionView.as_view(), name="retention"),
    path("api/v1/exports", ExportsView.as_view(), name="exports"),
    path("api/v1/exports/<uuid:export_id>", ExportView.as_view(), name="export"),
    path(
        "api/v1/exports/<uuid:export_id>/resume", ExportResumeView.as_view(), name="export-resume"
    ),
    path(
        "api/v1/exports/<uuid:export_id>/files/<path:path>",
        ExportFileView.as_view(),
        name="export-file",
    ),
    path(DATASETS, DatasetsView.as_view(), name="keen-datasets"),
    path(f"{DATASETS}/<str:name>", DatasetView.as_view(), name="keen-dataset"),
    path(
        f"{DATASETS}/<str:name>/results", DatasetResultsView.as_view(), name="keen-dataset-results"
    ),
    path(KEYS, AccessKeysView.as_view(), name="keen-access-keys"),
    path(f"{KEYS}/<str:key>", AccessKeyView.as_view(), name="keen-access-key"),
    path(
        f"{KEYS}/<str:key>/revoke",
        AccessKeyActivationView.as_view(active=False),
        name="keen-access-key-revoke",
    ),
    path(
        f"{KEYS}/<str:key>/unrevoke",
        AccessKeyActivationView.as_view(active=True),
        name="keen-access-key-unrevoke",
    ),
    path(SAVED, SavedQueriesView.as_view(), name="keen-saved-queries"),
    path(f"{SAVED}/<str:name>", SavedQueryView.as_view(), name="keen-saved-query"),
    path(f"{SAVED}/<str:name>/result", SavedQueryResultView.as_view(), name="keen-saved-result"),
    path(
        "3.0/projects/<str:project_id>/queries/<str:analysis>",
        KeenQueryView.as_view(),
        name="keen-query",
    ),
    path(
        "3.0/projects/<str:project_id>/extractions/<str:job_id>",
        ExtractionJobView.as_view(),
        name="keen-extraction",
    ),
    path(
        "3.0/projects/<str:project_id>/extractions/<str:job_id>/events",
        ExtractionEventsView.as_view(),
        name="keen-extraction-events",
    ),
    path("api/v1/insights/<str:analysis>", NativeQueryView.as_view(), name="insights-query"),
]
