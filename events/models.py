"""Projects and their API keys (relational database)."""

from __future__ import annotations

import uuid

from django.db import models


def _new_project_id() -> str:
    return uuid.uuid4().hex


class Project(models.Model):
    """A tenant: every event, rollup and key belongs to exactly one project."""

    id = models.CharField(primary_key=True, max_length=32, default=_new_project_id, editable=False)
    name = models.CharField(max_length=200)
    raw_retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="days raw events are kept (from their timestamp); empty: forever. "
        "Rollups are kept unless rollup_retention_days is set.",
    )
    rollup_retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="days rollups are kept (a bucket goes once its end is this old, purged "
        "daily); empty: forever",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class ApiKey(models.Model):
    """A hashed, revocable key: write (ingest), read (query), master (both and admin),
    or a Keen *access key*: named, allowed only what ``permitted`` lists (``writes``,
    ``queries``, ``saved_queries``, ``cached_queries``, ``datasets``, ``schema``), with
    Keen's ``options`` (``options.queries.filters`` are applied to all its queries)."""

    class Kind(models.TextChoices):
        WRITE = "write", "write"
        READ = "read", "read"
        MASTER = "master", "master"
        ACCESS = "access", "access"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise the key")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    name = models.CharField(max_length=255, blank=True, help_text="an access key's name")
    permitted = models.JSONField(default=list, blank=True, help_text="an access key's grants")
    options = models.JSONField(default=dict, blank=True, help_text="an access key's options")

    class Meta:
        ordering = ["project", "kind", "created_at"]

    def __str__(self) -> str:
        return f"{self.kind} key {self.prefix}… of {self.project_id}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
