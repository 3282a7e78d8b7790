#!/bin/sh
# One image, one role per process: web | worker | aggregator | beat | migrate, or any
# other command. The Procfile (`make run`) starts the same roles through this script.
# Access logs name the path without the query string: Keen clients may send
# ?api_key=..., and keys are never logged.
set -e
case "$1" in
  web)
    # What tests/benchmarks/bench_ingest.py measures (2 cores): gthread workers, one
    # per core, each with a few threads, so a request waiting on its Redis round trip
    # leaves the core to another; idle keep-alive connections (SDKs, nginx) wait in
    # the worker's poller, not in a thread, for WEB_KEEPALIVE seconds (nginx's upstream
    # keepalive_timeout is shorter, so nginx closes first and never reuses a closing one).
    # The access log (stdout) costs about 60 us of CPU per line (measured), some 3% of a
    # request at the single-event goal; WEB_ACCESS_LOG=off drops it where nginx logs.
    shift
    if [ "${WEB_ACCESS_LOG:-on}" != off ]; then
      set -- --access-logfile - \
        --access-logformat '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s' "$@"
    fi
    exec gunicorn analytics_site.wsgi \
      --bind "${WEB_HOST:-127.0.0.1}:${WEB_PORT:-8000}" \
      --worker-class gthread --workers "${WEB_WORKERS:-2}" --threads "${WEB_THREADS:-4}" \
      --keep-alive "${WEB_KEEPALIVE:-5}" --timeout 60 --graceful-timeout 30 "$@"
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
