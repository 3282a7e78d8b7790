"""Admin pages: aggregation job runs and committed Kafka offsets (read-only records)."""

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html_join

from .models import JobRun, KafkaOffset


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
