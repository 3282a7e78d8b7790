"""The registry of event collections: which event names each project has sent."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q
from django.utils import timezone

from .models import EventCollection


def record_collections(day_partitions: Iterable[tuple]) -> int:
    """Record the (project_id, name, ...) pairs of a run's written day partitions;
    return how many (project, name) pairs were new."""
    pairs = {(project_id, name) for project_id, name, *_ in day_partitions}
    if not pairs:
        return 0
    now = timezone.now()
    known = {
        (c.project_id, c.name)
        for c in EventCollection.objects.filter(
            project_id__in={p for p, _ in pairs}, name__in={n for _, n in pairs}
        )
    }
    new = pairs - known
    EventCollection.objects.bulk_create(
        [EventCollection(project_id=p, name=n, first_aggregated_at=now) for p, n in new],
        ignore_conflicts=True,
    )
    seen_again = Q()
    for project_id, name in pairs & known:
        seen_again |= Q(project_id=project_id, name=name)
    if seen_again:
        EventCollection.objects.filter(seen_again).update(last_aggregated_at=now)
    return len(new)


def collection_names(project_id: str) -> list[str]:
    """The event names ``project_id`` has sent (that aggregation has counted), sorted."""
    return list(
        EventCollection.objects.filter(project_id=project_id)
        .order_by("name")
        .values_list("name", flat=True)
    )
