"""Admin pages for projects and keys (keys are created by services, never typed in)."""

from django.contrib import admin
from django.utils import timezone

from .models import ApiKey, Project


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ("kind", "prefix", "created_at", "revoked_at")
    readonly_fields = ("kind", "prefix", "created_at")
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "id", "created_at")
    search_fields = ("name", "id")
    readonly_fields = ("id", "created_at")
    inlines = [ApiKeyInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "kind", "project", "created_at", "revoked_at")
    list_filter = ("kind",)
    search_fields = ("prefix", "project__name", "project__id")
    readonly_fields = ("project", "kind", "prefix", "created_at")
    exclude = ("key_hash",)
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} key(s).")
