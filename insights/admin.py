"""Admin pages: aggregation job runs and committed Kafka offsets (read-only records)."""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html_join

from .deletions import sync_suppressed
from .exports import files as export_files
from .models import Deletion, ExportJob, ExtractionJob, JobRun, KafkaOffset, SavedQuery


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "job",
        "trigger",
        "status",
        "started_at",
        "seconds",
        "records_read",
        "events_written",
        "deleted",
        "duplicates",
        "invalid",
        "rollup_rows",
        "records_lost",
    )
    list_filter = ("status", "trigger", "job")
    date_hierarchy = "started_at"

    @admin.display(description="records lost to Kafka retention")
    def records_lost(self, obj: JobRun) -> int:
        return sum(gap["count"] for gap in obj.offset_gaps)

    @admin.display(description="offsets lost to Kafka retention")
    def lost_offsets(self, obj: JobRun) -> str:
        if not obj.offset_gaps:
            return "none"
        return format_html_join(
            "; ",
            "{}[{}] offsets {}..{} ({} records)",
            (
                (gap["topic"], gap["partition"], gap["first"], gap["last"], gap["count"])
                for gap in obj.offset_gaps
            ),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: JobRun | None = None) -> list[str]:
        return [field.name for field in self.model._meta.fields] + [
            "seconds",
            "records_lost",
            "lost_offsets",
        ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: JobRun | None = None) -> bool:
        return False


@admin.register(KafkaOffset)
class KafkaOffsetAdmin(admin.ModelAdmin):
    list_display = ("job", "topic", "partition", "offset")
    list_filter = ("job", "topic")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: KafkaOffset | None = None) -> bool:
        return False


@admin.register(Deletion)
class DeletionAdmin(admin.ModelAdmin):
    """The deletion audit: who asked, when, what, and what was removed (read-only)."""

    list_display = (
        "id",
        "project_id",
        "kind",
        "status",
        "requested_by",
        "requested_at",
        "finished_at",
        "events_deleted",
        "rollup_rows",
        "attempts",
        "suppress",
    )
    list_filter = ("status", "kind", "suppress")
    actions = ["lift_suppression"]

    @admin.action(description="Lift the suppression (accept these users' new events again)")
    def lift_suppression(self, request: HttpRequest, queryset: Any) -> None:
        projects = {
            str(p) for p in queryset.filter(suppress=True).values_list("project_id", flat=True)
        }
        lifted = queryset.filter(suppress=True).update(suppress=False)
        for project_id in projects:
            sync_suppressed(project_id)
        self.message_user(request, f"{lifted} suppression(s) lifted")

    search_fields = ("project__id", "requested_by", "name")
    date_hierarchy = "requested_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Deletion | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Deletion | None = None) -> bool:
        return False


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    """Exports of raw events: progress, events written and the files (read-only)."""

    list_display = ("id", "project_id", "file_format", "status", "progress", "events")
    list_filter = ("status", "file_format")
    search_fields = ("id", "project__id", "requested_by")
    date_hierarchy = "created_at"
    readonly_fields = ("written_files",)

    @admin.display(description="chunks done")
    def progress(self, obj: ExportJob) -> str:
        return f"{len(obj.chunks_done)} / {obj.chunks}"

    @admin.display(description="files")
    def written_files(self, obj: ExportJob) -> str:
        return format_html_join(
            "\n", "<div>{} ({} bytes)</div>", ((f["path"], f["bytes"]) for f in export_files(obj))
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ExportJob | None = None) -> bool:
        return False


@admin.register(ExtractionJob)
class ExtractionJobAdmin(admin.ModelAdmin):
    """Keen extractions asked with ``email``: their status and what they wrote."""

    list_display = ("id", "project_id", "status", "events", "scanned", "created_at", "finished_at")
    list_filter = ("status",)
    search_fields = ("id", "project_id", "email")
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ExtractionJob | None = None) -> bool:
        return False


class SavedQueryForm(forms.ModelForm):
    """Checks the name and definition as the API does (a 400 there, a form error here)."""

    class Meta:
        model = SavedQuery
        fields = ("project", "name", "query", "refresh_rate", "metadata")

    def clean(self) -> dict[str, Any]:
        from .errors import QueryError
        from .saved_queries import checked_definition, checked_name

        data = super().clean() or {}
        try:
            checked_name(str(data.get("name") or self.instance.name or ""))
            checked_definition(
                {
                    "query": data.get("query"),
                    "refresh_rate": data.get("refresh_rate"),
                    "metadata": data.get("metadata"),
                }
            )
        except QueryError as error:
            raise forms.ValidationError(f"{error.field}: {error.message}") from None
        return data


@admin.register(SavedQuery)
class SavedQueryAdmin(admin.ModelAdmin):
    """Keen saved and cached queries: editable here as through the API; saving one
    checks its query as the API does and keeps its beat schedule in step."""

    list_display = ("name", "project", "analysis", "refresh_rate", "result_at", "updated_at")
    list_filter = ("refresh_rate",)
    search_fields = ("name", "project__name", "project__id")
    form = SavedQueryForm
    readonly_fields = ("result", "result_at", "refresh_error", "schedule", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: SavedQuery | None = None) -> Any:
        renamed = ("project", "name") if obj is not None else ()  # a rename is a new query
        return (*renamed, *self.readonly_fields)

    @admin.display(description="analysis")
    def analysis(self, obj: SavedQuery) -> str:
        return str(obj.query.get("analysis_type", ""))

    def save_model(self, request: HttpRequest, obj: SavedQuery, form: Any, change: bool) -> None:
        from .saved_queries import save

        body = {"query": obj.query, "refresh_rate": obj.refresh_rate, "metadata": obj.metadata}
        saved, _ = save(obj.project_id, obj.name, body)
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: SavedQuery) -> None:
        from .saved_queries import delete

        delete(obj.project_id, obj.name)
