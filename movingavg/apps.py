"""Django app configuration. Only this module, models.py, admin.py and charts.py import
Django; the engines stay pure Python."""

from django.apps import AppConfig


class MovingavgConfig(AppConfig):
    """The ``movingavg`` app: metric definitions and the metric browser in the admin."""

    name = "movingavg"
    default_auto_field = "django.db.models.BigAutoField"
