"""The baseline server's settings: the shipped settings, and only ``ROOT_URLCONF``
changed to add ``POST /bench/noop`` (a trivial DRF view) in front of the shipped URLs."""

from analytics_site.settings import *  # noqa: F403

ROOT_URLCONF = "tests.benchmarks.bench_urls"
