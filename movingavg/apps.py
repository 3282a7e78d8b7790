"""Django app configuration; the only module of the package that imports Django."""

from django.apps import AppConfig


class MovingavgConfig(AppConfig):
    """The ``movingavg`` app (admin pages come with the insights issue)."""

    name = "movingavg"
    default_auto_field = "django.db.models.BigAutoField"
