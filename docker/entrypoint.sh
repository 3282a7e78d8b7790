#!/bin/sh
# One image, one role per process: web | worker | aggregator | beat | migrate, or any
# other command. The Procfile (`make run`) starts the same roles through this script.
# Access logs name the path without the query string: Keen clients may send
# ?api_key=..., and keys are never logged.
set -e
case "$1" in
  web)
    shift
    exec gunicorn analytics_site.wsgi \
      --bind "${WEB_HOST:-127.0.0.1}:${WEB_PORT:-8000}" \
      --workers "${WEB_WORKERS:-2}" --timeout 60 --graceful-timeout 30 \
      --access-logfile - \
      --access-logformat '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s' "$@"
    ;;
  worker)
    shift
    exec celery -A analytics_site worker --loglevel INFO \
      --concurrency "${WORKER_CONCURRENCY:-2}" --hostname "worker@%h" "$@"
    ;;
  aggregator)
    shift
    exec celery -A analytics_site worker --loglevel INFO \
      --queues "${AGGREGATION_QUEUE:-aggregation}" --concurrency 1 \
      --hostname "aggregator@%h" "$@"
    ;;
  beat)
    shift
    exec celery -A analytics_site beat --loglevel INFO \
      --scheduler django_celery_beat.schedulers:DatabaseScheduler "$@"
    ;;
  migrate)
    python manage.py migrate --noinput
    python manage.py sync_cassandra
    exec python manage.py create_topics
    ;;
  *)
    exec "$@"
    ;;
esac
