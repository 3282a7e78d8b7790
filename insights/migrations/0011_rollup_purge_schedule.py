"""The daily purge of rollups beyond each project's ``rollup_retention_days``
(``insights.purge_rollups``, 03:00 UTC): an ordinary django-celery-beat PeriodicTask,
editable in the admin; this migration only creates it if it is missing."""

from django.db import migrations

TASK_NAME = "purge expired rollups"


def create_schedule(apps, schema_editor) -> None:
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    daily, _ = crontab_model.objects.get_or_create(
        minute="0", hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    task_model.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "insights.purge_rollups",
            "crontab": daily,
            "description": "Remove rollup buckets beyond each project's rollup retention.",
        },
    )


def remove_schedule(apps, schema_editor) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0010_deletion_suppress"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
