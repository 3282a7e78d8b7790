from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events and projects"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from celery.signals import worker_ready

        from . import schema  # noqa: F401  (registers the OpenAPI auth schemes)
        from .tasks import drain_on_worker_ready

        worker_ready.connect(drain_on_worker_ready, dispatch_uid="events.drain_on_worker_ready")
