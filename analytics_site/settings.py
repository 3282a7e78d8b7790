"""Settings, read from the environment in this one place (django-environ).

Every value has a local-development default that matches the stack started by
``make run`` (services on 127.0.0.1, data under ``var/``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import environ
from cassandra import ConsistencyLevel
from cassandra.policies import (
    DCAwareRoundRobinPolicy,
    ExponentialReconnectionPolicy,
    TokenAwarePolicy,
)
from django.core.exceptions import ImproperlyConfigured

from analytics_site.secret_key import install_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DATA_DIR = Path(env.str("STACK_HOME", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

# --- Production: DJANGO_SECURE=true behind a TLS terminator --------------------------
# The terminator (nginx) must set X-Forwarded-Proto. In this mode the secret has no
# default, plain HTTP is redirected (except the health check the load balancer polls),
# cookies are HTTPS-only and HSTS is sent. `manage.py check --deploy` is then clean.
SECURE = env.bool("DJANGO_SECURE", default=False)
if SECURE:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY")
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=True)
else:
    # Never a public default: generated once per install into DATA_DIR (mode 0600).
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or install_secret_key(
        DATA_DIR / "secret_key"
    )
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

INSTALLED_APPS = [
    "django_cassandra_engine",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "events",
    "insights",
    "movingavg",
]

MIDDLEWARE = [
    # First, so every answer on the CORS paths carries the headers (analytics_site/cors.py).
    "analytics_site.cors.PreflightNoContentCorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

# --- Admin logins: django-axes locks a username out from an address after repeated
# failures (429 until the cool-off ends; a success resets the count). Attempts are
# stored in the default database; `manage.py axes_reset` lifts every lockout.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "events.throttling.client_address"

ROOT_URLCONF = "analytics_site.urls"
WSGI_APPLICATION = "analytics_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Databases: relational default (SQLite unless DATABASE_URL) + Cassandra ---------
CASSANDRA_HOSTS = env.list("CASSANDRA_HOSTS", default=["127.0.0.1"])
CASSANDRA_PORT = env.int("CASSANDRA_PORT", default=9042)
CASSANDRA_KEYSPACE = env.str("CASSANDRA_KEYSPACE", default="analytics")
CASSANDRA_LOCAL_DC = env.str("CASSANDRA_LOCAL_DC", default=None)
_strategy = env.str("CASSANDRA_REPLICATION_STRATEGY", default="SimpleStrategy")
_factor = env.int("CASSANDRA_REPLICATION_FACTOR", default=1)
# SimpleStrategy takes one factor; NetworkTopologyStrategy a factor per data centre.
CASSANDRA_REPLICATION = (
    {"strategy_class": _strategy, "replication_factor": _factor}
    if _strategy == "SimpleStrategy"
    else {"strategy_class": _strategy, (CASSANDRA_LOCAL_DC or "datacenter1"): _factor}
)

# The longest wait of the app's Cassandra driver between attempts to reach a node.
CASSANDRA_RECONNECT_MAX_SECONDS = env.float("CASSANDRA_RECONNECT_MAX_SECONDS", default=5.0)
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
    "cassandra": {
        "ENGINE": "django_cassandra_engine",
        "NAME": CASSANDRA_KEYSPACE,
        "HOST": ",".join(CASSANDRA_HOSTS),
        "TEST": {"NAME": f"test_{CASSANDRA_KEYSPACE}"},
        "OPTIONS": {
            "replication": dict(CASSANDRA_REPLICATION),
            "connection": {
                "port": CASSANDRA_PORT,
                "connect_timeout": env.float("CASSANDRA_CONNECT_TIMEOUT", default=5.0),
                "protocol_version": 5,
                "load_balancing_policy": TokenAwarePolicy(
                    DCAwareRoundRobinPolicy(local_dc=CASSANDRA_LOCAL_DC)
                ),
                # The driver's default waits up to 10 minutes between attempts to reach a
                # node that went down; a restarted node is used again within seconds.
                "reconnection_policy": ExponentialReconnectionPolicy(
                    base_delay=0.5,
                    max_delay=CASSANDRA_RECONNECT_MAX_SECONDS,
                ),
                "lazy_connect": True,
                "retry_connect": True,
            },
            # Queries read at LOCAL_QUORUM, the level the aggregation writes at: an answer
            # includes every completed run, and one node of three may be down.
            "session": {
                "default_timeout": env.float("CASSANDRA_QUERY_TIMEOUT", default=10.0),
                "default_consistency_level": ConsistencyLevel.name_to_value[
                    env.str("CASSANDRA_QUERY_CONSISTENCY", default="LOCAL_QUORUM")
                ],
            },
        },
    },
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: live-server tests answer a browser's concurrent requests from
    # threads, and an in-memory test database is one connection they would share.
    DATABASES["default"].setdefault("TEST", {}).setdefault(
        "NAME", str(Path(DATABASES["default"]["NAME"]).with_name("test_db.sqlite3"))
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Messaging: Redis (Celery broker) and Kafka -------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
KAFKA_BOOTSTRAP_SERVERS = env.list("KAFKA_BOOTSTRAP_SERVERS", default=["127.0.0.1:9092"])
KAFKA_TOPIC_PREFIX = env.str("KAFKA_TOPIC_PREFIX", default="analytics.events")

# `manage.py create_topics` (run by `make setup` and the stack's migrate step).
KAFKA_TOPIC_PARTITIONS = env.int("KAFKA_TOPIC_PARTITIONS", default=3)
KAFKA_TOPIC_REPLICATION_FACTOR = env.int("KAFKA_TOPIC_REPLICATION_FACTOR", default=1)
KAFKA_TOPIC_MIN_INSYNC_REPLICAS = env.int("KAFKA_TOPIC_MIN_INSYNC_REPLICAS", default=1)
# How long Kafka keeps events (retention.ms of every topic, set by create_topics): a
# replay reaches this far back, and aggregation reports records deleted unread.
KAFKA_TOPIC_RETENTION_HOURS = env.int("KAFKA_TOPIC_RETENTION_HOURS", default=168)
KAFKA_REQUEST_TIMEOUT_MS = env.int("KAFKA_REQUEST_TIMEOUT_MS", default=10000)
# The producer's batch per partition, and the largest request (so the largest record):
# the broker's message.max.bytes default. A record of an event within EVENT_MAX_BYTES
# normally stays far below it; one that does not is refused and reaches the DLQ.
KAFKA_PRODUCER_BATCH_BYTES = env.int("KAFKA_PRODUCER_BATCH_BYTES", default=512 * 1024)
KAFKA_MAX_REQUEST_BYTES = env.int("KAFKA_MAX_REQUEST_BYTES", default=1024 * 1024)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env.str("CACHE_URL", default=REDIS_URL.rsplit("/", 1)[0] + "/1"),
    }
}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_DEFAULT_QUEUE", default="celery")
# Messages are acknowledged on receipt: no task relies on redelivery. Accepted events
# wait in the ingestion streams (events/stream.py), and beat re-triggers aggregation.
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600

# --- Ingestion streams (events/stream.py) -------------------------------------------
# Accepted events wait here (Redis with AOF appendfsync always) until Kafka has them.
EVENTS_STREAM_REDIS_URL = env.str("EVENTS_STREAM_REDIS_URL", default=CELERY_BROKER_URL)
EVENTS_STREAM_PREFIX = env.str("EVENTS_STREAM_PREFIX", default="events:stream")
# One shard per forwarding worker process (the worker role runs WORKER_CONCURRENCY=2):
# more shards than processes leave some shards waiting for a free drain.
EVENTS_STREAM_SHARDS = env.int("EVENTS_STREAM_SHARDS", default=2)
# Entries per read (XREADGROUP COUNT) and the time one drain task runs before it
# schedules the next one.
EVENTS_DRAIN_BATCH = env.int("EVENTS_DRAIN_BATCH", default=2000)
EVENTS_DRAIN_BUDGET_SECONDS = env.float("EVENTS_DRAIN_BUDGET_SECONDS", default=2.0)
# A drain whose stream is empty waits this long for new entries before it ends, so
# under steady load one drain per shard keeps running and requests publish no tasks.
EVENTS_DRAIN_LINGER_MS = env.int("EVENTS_DRAIN_LINGER_MS", default=200)
# When a read returns a trickle (fewer than EVENTS_DRAIN_BATCH), the drain waits this
# long for more before producing. Measured (bench_ingest, single events): 200 ms halves
# the forwarding CPU per event against 50 ms (0.23 against 0.48 ms), for about 150 ms
# more from 2xx to Kafka ack, well within its 1 s goal.
EVENTS_DRAIN_COLLECT_MS = env.int("EVENTS_DRAIN_COLLECT_MS", default=200)
# Entries a consumer has held this long without acknowledging them are taken over by
# the next drain (XAUTOCLAIM): their drain died. Must exceed one Kafka round of a batch.
EVENTS_STREAM_CLAIM_IDLE_SECONDS = env.float("EVENTS_STREAM_CLAIM_IDLE_SECONDS", default=30.0)
# Each worker process reads under its own consumer name; the safety net deletes those
# idle this long that hold no entry (processes that exited).
EVENTS_STREAM_CONSUMER_IDLE_SECONDS = env.float(
    "EVENTS_STREAM_CONSUMER_IDLE_SECONDS", default=3600.0
)
# A shard's "drain scheduled" flag lives this long without a drain refreshing it.
EVENTS_DRAIN_FLAG_SECONDS = env.int("EVENTS_DRAIN_FLAG_SECONDS", default=30)
# The beat safety net runs this often and drains every stream whose oldest entry is
# older than this.
EVENTS_DRAIN_SAFETY_SECONDS = env.int("EVENTS_DRAIN_SAFETY_SECONDS", default=5)
# Health shows "forwarding" degraded when an accepted event has waited this long.
EVENTS_FORWARDING_LAG_ALERT_SECONDS = env.int("EVENTS_FORWARDING_LAG_ALERT_SECONDS", default=60)
# Fault tests only: a drain SIGKILLs itself at this point (events/stream.py FAULT_POINTS).
EVENTS_DRAIN_KILL_AT = env.str("EVENTS_DRAIN_KILL_AT", default="")
# A forwarding failure that is neither Kafka nor Redis being unreachable is retried this
# many times; then the batch goes to the dead-letter topic with the error as its reason.
FORWARD_MAX_UNEXPECTED_FAILURES = env.int("FORWARD_MAX_UNEXPECTED_FAILURES", default=5)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# --- Ingestion limits (see events/limits.py for every key) -------------------------
EVENT_LIMITS = {
    "max_event_bytes": env.int("EVENT_MAX_BYTES", default=32 * 1024),
    "max_body_bytes": env.int("REQUEST_MAX_BYTES", default=500 * 1024),
    "max_batch_events": env.int("BATCH_MAX_EVENTS", default=2500),
    "max_request_stored_bytes": env.int("REQUEST_MAX_STORED_BYTES", default=8 * 1024 * 1024),
}


def _rate(name: str, default: str) -> tuple[int, int]:
    """Env ``name`` as ``"1000/s"`` -> (1000, 1); also ``/m``, ``/h``; ``0`` disables."""
    value = env.str(name, default=default)
    count, _, period = value.partition("/")
    seconds = {"s": 1, "m": 60, "h": 3600}.get(period[:1] or "s")
    if seconds is None or not count.isdigit():
        raise ValueError(f"{name} must look like 1000/s, got {value!r}")
    return int(count), seconds


# Behind a load balancer that sets a fresh request id and may retry a POST on another
# instance (nginx: X-Request-Id $request_id): events without an id get ids derived from
# it, so the retry is counted once. Empty: such events get random UUIDv7s.
EVENT_ID_REQUEST_HEADER = env.str("EVENT_ID_REQUEST_HEADER", default="")
INGEST_RATE_LIMIT = _rate("INGEST_RATE_LIMIT", "1000/s")
# Each process remembers a valid API key this long: a revoked key keeps working for
# at most this many seconds (0: every request reads the database).
API_KEY_CACHE_SECONDS = env.float("API_KEY_CACHE_SECONDS", default=5.0)
# Query requests per key (events/throttling.py), counted apart from ingestion.
QUERY_RATE_LIMIT = _rate("QUERY_RATE_LIMIT", "100/s")
# Failed key authentications per client address, on every door and the query API;
# beyond, that address gets 429 with Retry-After (valid keys too) until the window ends.
AUTH_FAILURE_RATE_LIMIT = _rate("AUTH_FAILURE_RATE_LIMIT", "20/m")
# The client address is REMOTE_ADDR, unless that is one of these proxies (addresses or
# networks, e.g. the load balancer's): then the nearest X-Forwarded-For hop not in it.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

# --- Browser door: CORS (django-cors-headers; analytics_site/cors.py) ----------------
# Only the ingestion doors (native, Segment /v1/*, Keen events) and Keen's query routes
# (read keys, as Keen's browser SDKs use them); never the admin or /api/v1/insights.
# Keys are sent as headers or parameters, never cookies, so any origin is allowed.
CORS_URLS_REGEX = r"^/(api/v1/events(/|$)|v1/|3\.0/projects/[^/]+/(events|queries)(/|$))"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_METHODS = ("GET", "POST", "OPTIONS")
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "content-encoding",
    "keen-sdk",
    "x-api-key",
    "x-request-id",
)
CORS_EXPOSE_HEADERS = ("Retry-After",)
CORS_PREFLIGHT_MAX_AGE = 86400

# --- Spark --------------------------------------------------------------------------
SPARK_MASTER_URL = env.str("SPARK_MASTER_URL", default="local[2]")
SPARK_JARS_DIR = Path(env.str("SPARK_JARS_DIR", default=str(DATA_DIR / "jars" / "spark")))
SPARK_DRIVER_MEMORY = env.str("SPARK_DRIVER_MEMORY", default="2g")
# Each executor's heap on a standalone cluster (SPARK_MASTER_URL spark://...).
SPARK_EXECUTOR_MEMORY = env.str("SPARK_EXECUTOR_MEMORY", default="1g")
# Where executors reach the driver, and the address it binds (a container's name and
# 0.0.0.0 on a cluster; loopback locally).
SPARK_DRIVER_HOST = env.str("SPARK_DRIVER_HOST", default="127.0.0.1")
SPARK_DRIVER_BIND_ADDRESS = env.str("SPARK_DRIVER_BIND_ADDRESS", default="127.0.0.1")
# The job reads back what it writes, so it reads and writes at this level.
CASSANDRA_JOB_CONSISTENCY = env.str("CASSANDRA_JOB_CONSISTENCY", default="LOCAL_QUORUM")

# --- Aggregation (insights/aggregation.py; scheduled by django-celery-beat) -----------
AGGREGATION_QUEUE = env.str("AGGREGATION_QUEUE", default="aggregation")
# Beat triggers a run this often. A run that finds nothing costs a few milliseconds (the
# worker keeps its Kafka consumer and SparkSession), so a short interval is cheap and is
# what makes an event count within about two seconds (tests/benchmarks/bench_freshness.py).
AGGREGATION_INTERVAL_SECONDS = env.int("AGGREGATION_INTERVAL_SECONDS", default=1)
AGGREGATION_MAX_RECORDS_PER_PARTITION = env.int(
    "AGGREGATION_MAX_RECORDS_PER_PARTITION", default=2_000_000
)
# Runs of up to this many records, whose values add up to at most this many bytes,
# read Kafka on the driver (no per-partition Spark task set-up); bigger runs use
# Spark's Kafka source. The driver path costs about 1.5-2.5 ms per event; the two paths
# cost the same near 10,000 records (`bench_aggregate` at 5k/10k/20k, 2026-12-02).
AGGREGATION_DRIVER_READ_MAX_RECORDS = env.int("AGGREGATION_DRIVER_READ_MAX_RECORDS", default=10_000)
AGGREGATION_DRIVER_READ_MAX_BYTES = env.int(
    "AGGREGATION_DRIVER_READ_MAX_BYTES", default=64 * 1024 * 1024
)
# A run read on the driver is aggregated there too, on the app's Cassandra session
# (``spark/driver_batch.py``): one Spark action instead of a dozen. False runs every
# batch through Spark's joins and writes (the same numbers, seconds slower).
AGGREGATION_SMALL_BATCHES_ON_DRIVER = env.bool("AGGREGATION_SMALL_BATCHES_ON_DRIVER", default=True)
AGGREGATION_TIME_LIMIT_SECONDS = env.int("AGGREGATION_TIME_LIMIT_SECONDS", default=1800)
# One run at a time: a Redis lock renewed while the run lives, so a killed run frees
# it within this many seconds.
AGGREGATION_LOCK_TTL_SECONDS = env.int("AGGREGATION_LOCK_TTL_SECONDS", default=30)
# Runs that read nothing are kept this long (a sign of life of the aggregation; one a
# second at the default interval), so the admin list stays readable.
AGGREGATION_EMPTY_RUN_RETENTION_HOURS = env.int("AGGREGATION_EMPTY_RUN_RETENTION_HOURS", default=1)
# Health reports the aggregation degraded while runs this recent found Kafka records
# deleted by retention before they were read (JobRun.offset_gaps).
AGGREGATION_GAP_ALERT_HOURS = env.int("AGGREGATION_GAP_ALERT_HOURS", default=24)
CELERY_TASK_ROUTES = {"insights.*": {"queue": AGGREGATION_QUEUE}}
# Queries the rollups cannot answer (filters, group_by, median, ...) scan raw events,
# at most this many day partitions and events; beyond, the caller narrows the timeframe.
AD_HOC_MAX_DAYS = env.int("AD_HOC_MAX_DAYS", default=31)
# The day weeks start on, for relative week timeframes and weekly intervals alike.
WEEK_START = env.str("WEEK_START", default="monday")
if WEEK_START not in ("monday", "sunday"):
    raise ImproperlyConfigured(f"WEEK_START is {WEEK_START!r}; use monday or sunday")
AD_HOC_MAX_EVENTS = env.int("AD_HOC_MAX_EVENTS", default=200_000)
# Keen's extraction bounds: a synchronous answer returns at most EXTRACTION_MAX_EVENTS
# and reads at most EXTRACTION_MAX_SCANNED events; one with ``email`` runs as a job that
# writes at most EXTRACTION_ASYNC_MAX_EVENTS (Keen's 10 million) to a JSON Lines file.
EXTRACTION_MAX_EVENTS = env.int("EXTRACTION_MAX_EVENTS", default=100_000)
EXTRACTION_MAX_SCANNED = env.int("EXTRACTION_MAX_SCANNED", default=1_000_000)
EXTRACTION_ASYNC_MAX_EVENTS = env.int("EXTRACTION_ASYNC_MAX_EVENTS", default=10_000_000)
EXTRACTION_ASYNC_MAX_SCANNED = env.int("EXTRACTION_ASYNC_MAX_SCANNED", default=100_000_000)
# A cached query's refresh_rate (seconds): 0, or within these bounds (Keen's 4 to 48 hours).
CACHED_QUERY_MIN_REFRESH_SECONDS = env.int("CACHED_QUERY_MIN_REFRESH_SECONDS", default=14_400)
CACHED_QUERY_MAX_REFRESH_SECONDS = env.int("CACHED_QUERY_MAX_REFRESH_SECONDS", default=172_800)
EXTRACTION_MAX_DAYS = env.int("EXTRACTION_MAX_DAYS", default=366)
# Deletions (insights.deletions): at most DELETION_MAX_USERS distinct ids per request and
# DELETION_MAX_DAYS days per events deletion; a failing one is tried DELETION_MAX_ATTEMPTS
# times; a user's deletion drops their events still on their way for DELETION_RULE_DAYS.
DELETION_MAX_USERS = env.int("DELETION_MAX_USERS", default=1000)
DELETION_MAX_DAYS = env.int("DELETION_MAX_DAYS", default=3660)
DELETION_MAX_ATTEMPTS = env.int("DELETION_MAX_ATTEMPTS", default=3)
DELETION_RULE_DAYS = env.int("DELETION_RULE_DAYS", default=30)
# A users' deletion touching at least this many raw-event partitions (an event name's
# UTC day) runs as a Spark job (spark.deletion_job); fewer, on the worker's driver.
DELETION_SPARK_PARTITIONS = env.int("DELETION_SPARK_PARTITIONS", default=64)
# Exports (insights.exports): written under EXPORTS_DIR/<id> by the API, in chunks of
# EXPORT_CHUNK_PARTITIONS raw-event partitions (an event name's UTC day) per Spark job.
EXPORTS_DIR = Path(env.str("EXPORTS_DIR", default=str(BASE_DIR / "var" / "exports")))
EXPORT_CHUNK_PARTITIONS = env.int("EXPORT_CHUNK_PARTITIONS", default=31)
# API exports go to EXPORT_DESTINATION/<id> when it is set (an s3://bucket/prefix URL of
# an S3-compatible store, EXPORT_S3_ENDPOINT_URL for one that is not AWS; credentials as
# boto3 finds them, e.g. AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), else EXPORTS_DIR/<id>.
EXPORT_DESTINATION = env.str("EXPORT_DESTINATION", default="")
EXPORT_S3_ENDPOINT_URL = env.str("EXPORT_S3_ENDPOINT_URL", default="")
EXTRACTIONS_DIR = Path(env.str("EXTRACTIONS_DIR", default=str(BASE_DIR / "var" / "extractions")))
# count_unique and select_unique hold at most this many distinct values (from the
# rollups' bucket_users or the raw scan); beyond, 400: narrow the timeframe or add an
# interval.
QUERY_MAX_UNIQUE_IDS = env.int("QUERY_MAX_UNIQUE_IDS", default=1_000_000)
# Query results stay cached at most this long (new aggregates invalidate them sooner).
QUERY_CACHE_SECONDS = env.int("QUERY_CACHE_SECONDS", default=3600)

# --- Health checks ------------------------------------------------------------------
HEALTH_CHECK_TIMEOUT_SECONDS = env.float("HEALTH_CHECK_TIMEOUT_SECONDS", default=3.0)

# --- REST framework and API schema --------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "analytics_site.errors.api_exception_handler",
    "DEFAULT_PARSER_CLASSES": ["events.json_parsing.StrictJSONParser"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Event analytics API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "analytics_site.openapi.add_error_responses",
    ],
}

# --- I18N, static files, logging ----------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "analytics_site.static_finders.PlotlyFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

TEST_RUNNER = "analytics_site.test_runner.PytestTestRunner"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "cassandra": {"level": "WARNING"},
        "kafka": {"level": "WARNING"},
    },
}
