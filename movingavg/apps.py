"""Django app configuration. Only this module, ``models``, ``admin`` and the migrations
import Django; ``movingavg.engines`` stays pure Python."""

from django.apps import AppConfig


class MovingavgConfig(AppConfig):
    """The ``movingavg`` app: metric definitions and the metric browser in the admin."""

    name = "movingavg"
    default_auto_field = "django.db.models.BigAutoField"
