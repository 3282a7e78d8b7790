"""The default beat schedule: run the aggregation every AGGREGATION_INTERVAL_SECONDS.

It is an ordinary django-celery-beat PeriodicTask, so it can be edited, paused or
replaced in the admin; this migration only creates it if it is missing.
"""

from django.conf import settings
from django.db import migrations

TASK_NAME = "aggregate events"


def create_schedule(apps, schema_editor) -> None:
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    every = settings.AGGREGATION_INTERVAL_SECONDS
    interval, _ = interval_model.objects.get_or_create(every=every, period="seconds")
    task_model.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "insights.aggregate_events",
            "interval": interval,
            "queue": settings.AGGREGATION_QUEUE,
            # A trigger not picked up before the next one is due is dropped, so a
            # long run never leaves a pile of triggers behind it.
            "expire_seconds": every,
            "description": "Aggregate new Kafka events into Cassandra rollups.",
        },
    )


def remove_schedule(apps, schema_editor) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0001_job_runs"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
