"""WSGI application for the benchmark settings."""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "tests.benchmarks.bench_settings"
application = get_wsgi_application()
