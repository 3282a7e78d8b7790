"""The beat safety net of the ingestion streams: every EVENTS_DRAIN_SAFETY_SECONDS,
drain each stream whose oldest entry is overdue (``events.drain_overdue_streams``).

An ordinary django-celery-beat PeriodicTask, editable in the admin; this migration
only creates it if it is missing.
"""

from django.conf import settings
from django.db import migrations

TASK_NAME = "drain overdue ingestion streams"


def create_schedule(apps, schema_editor) -> None:
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    every = settings.EVENTS_DRAIN_SAFETY_SECONDS
    interval, _ = interval_model.objects.get_or_create(every=every, period="seconds")
    task_model.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "events.drain_overdue_streams",
            "interval": interval,
            "expire_seconds": every,
            "description": "Drain ingestion streams whose drain trigger was lost or whose drain died.",
        },
    )


def remove_schedule(apps, schema_editor) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
