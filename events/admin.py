"""Admin pages for projects and keys (keys are created by services, never typed in)."""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from .models import ApiKey, Project


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ("kind", "prefix", "created_at", "revoked_at")
    readonly_fields = ("kind", "prefix", "created_at")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Project | None = None) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "id", "created_at")
    search_fields = ("name", "id")
    readonly_fields = ("id", "created_at")
    inlines = [ApiKeyInline]

    def save_model(self, request: HttpRequest, obj: Project, form: Any, change: bool) -> None:
        """Save; a changed raw retention queues the rewrite of what is stored, a changed
        rollup retention the purge (by name: the tasks live in insights)."""
        super().save_model(request, obj, form, change)
        for field, task in (
            ("raw_retention_days", "insights.apply_retention"),
            ("rollup_retention_days", "insights.purge_rollups"),
        ):
            if change and field in form.changed_data:
                current_app.send_task(task, args=(obj.pk,), queue=settings.AGGREGATION_QUEUE)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "kind", "project", "created_at", "revoked_at")
    list_filter = ("kind",)
    search_fields = ("prefix", "project__name", "project__id")
    readonly_fields = ("project", "kind", "prefix", "created_at")
    exclude = ("key_hash",)
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} key(s).")
