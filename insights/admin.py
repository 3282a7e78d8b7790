"""Admin pages: aggregation job runs and committed Kafka offsets (read-only records)."""

from django.contrib import admin

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
    )
    list_filter = ("status", "trigger", "job")
    date_hierarchy = "started_at"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields] + ["seconds"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(KafkaOffset)
class KafkaOffsetAdmin(admin.ModelAdmin):
    list_display = ("job", "topic", "partition", "offset")
    list_filter = ("job", "topic")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
