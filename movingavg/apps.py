from django.apps import AppConfig


class MovingavgConfig(AppConfig):
    name = "movingavg"
    default_auto_field = "django.db.models.BigAutoField"
