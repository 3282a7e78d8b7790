"""Settings for the ingestion benchmark: the real settings plus a trivial DRF endpoint."""

from analytics_site.settings import *  # noqa: F403

ROOT_URLCONF = "tests.benchmarks.bench_urls"
INGEST_RATE_LIMIT = (0, 1)  # the benchmark measures throughput, not the limiter
