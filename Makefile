# Two commands for users: `make run` (the whole system) and `make test` (the whole suite);
# `make lint` for contributors (CI runs it before the tests). All install what is missing
# first and are safe to repeat.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK := $(PY) -m services.localstack
WEB_HOST ?= 127.0.0.1
WEB_PORT ?= 8000
export WEB_HOST WEB_PORT

.PHONY: install services setup run test screenshots stop status lint format bench cluster cluster-stop cluster-status test-cluster

$(VENV)/.installed: requirements.txt
	@echo "==> Python: creating $(VENV) and installing requirements.txt (first run: a few minutes)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --disable-pip-version-check --progress-bar off -r requirements.txt | grep -vE "^Requirement already satisfied" || true
	@touch $@

install: $(VENV)/.installed  ## venv, Maven jars, Debian's redis-server (idempotent)
	@echo "==> Services: checking Debian packages and Maven jars"
	@$(STACK) install

services: install  ## start Redis, Kafka and Cassandra and wait until each answers
	@echo "==> Services: starting Redis, Kafka and Cassandra"
	@$(STACK) start

setup: services  ## migrate the relational DB, sync the Cassandra tables, create the Kafka topics, collect static files
	@echo "==> Django: migrate, sync_cassandra, create_topics, collectstatic"
	@$(PY) manage.py migrate --noinput
	@$(PY) manage.py sync_cassandra
	@$(PY) manage.py create_topics
	@$(PY) manage.py collectstatic --noinput --verbosity 0

run: setup  ## the whole system in the foreground: web, Celery workers (ingest, aggregation), beat (Ctrl-C stops)
	@echo "==> Running web on http://$(WEB_HOST):$(WEB_PORT), Celery workers (ingest, aggregation) and Celery beat"
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho start -f Procfile

test: services  ## the whole test suite (python manage.py test runs pytest)
	@echo "==> Tests"
	@$(PY) manage.py test

screenshots: services  ## the README's dashboard and metric-browser screenshots, from the Chromium tests
	@SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(PY) -m pytest -q tests/e2e/test_dashboard_in_chromium.py tests/e2e/test_metric_browser_in_chromium.py

stop:  ## stop the services
	@$(STACK) stop

status:
	@$(STACK) status

lint: $(VENV)/.installed  ## ruff check, ruff format --check, mypy (django-stubs); needs no services
	@echo "==> Lint: ruff check, ruff format --check, mypy"
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy

format: $(VENV)/.installed  ## ruff's fixes and layout, applied to the whole tree
	@$(VENV)/bin/ruff check --fix .
	@$(VENV)/bin/ruff format .

bench: services  ## every benchmark, one report table (var/bench/report.md); BENCH_AGGREGATE_EVENTS sets the backlog
	@$(PY) -m tests.benchmarks.report

cluster: install  ## the distributed stack on 127.0.0.1-3 (README "Cluster"); stop the single-node services first
	@$(PY) -m services.cluster start

cluster-stop:  ## stop every process of the cluster
	@$(PY) -m services.cluster stop

cluster-status:
	@$(PY) -m services.cluster status

test-cluster: cluster  ## node failures under load on the cluster (CI runs it after `make test`)
	@$(PY) -m pytest -p no:cacheprovider -o python_files="cluster_*.py" tests/cluster -v -s
