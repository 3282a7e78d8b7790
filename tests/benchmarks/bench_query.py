"""Query latency benchmark (on demand; needs `make services`).

100,000 events over 30 days are aggregated into a separate keyspace
(``bench_analytics``); then, through gunicorn over HTTP with a keep-alive client:

- a 30-day daily count;
- a 48-hour hourly count_unique;
- a 7-day hourly SMA(24) (native endpoint).

Each is measured uncached (``max_age=0``) and cached, against a raw CQL read of
the same partition rows with the Python driver (prepared statement, same session
settings), p50 and p95 over 200 requests each.

The admin's pages, logged in as staff through the same gunicorn: the metric browser
with a 30-day daily chart and the dashboard (20 event names, 24-hour and 30-day
charts, top events, the pipeline tiles), p95, against the cached API answer of the
same 30-day daily count (the page's own query, over the same connection).

Run: ``.venv/bin/python -m tests.benchmarks.bench_query``
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from tests.benchmarks import bench_aggregate as data
from tests.benchmarks.report import Figure, figures_argument, publish

PORT = int(os.environ.get("BENCH_PORT", "8767"))
REQUESTS = 200
START = dt.datetime(2026, 11, 17, tzinfo=dt.UTC)  # where bench_aggregate's backlog begins


def percentiles(samples: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(samples, n=100)
    return statistics.median(samples) * 1000, q[94] * 1000


def timed(call) -> tuple[float, float]:
    call()  # warm
    samples = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    figures_argument(parser)
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from events.services import create_project_with_keys
    from insights.aggregation import run_aggregation
    from insights.spark_runtime import get_session

    call_command("migrate", verbosity=0)
    call_command("sync_cassandra", verbosity=0)
    project, keys = create_project_with_keys(name="query bench")
    spark = get_session()
    print("aggregating 100,000 events over 30 days ...", flush=True)
    data.produce(spark, data.backlog(spark, start=0, count=100_000, project=project.id, days=30))
    run_aggregation()
    spark.stop()

    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "analytics_site.wsgi",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            "2",
        ],
        env={**os.environ, "QUERY_RATE_LIMIT": "0"},  # measures latency, not the limiter
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        for _ in range(100):
            try:
                conn.request("GET", "/api/v1/health")
                conn.getresponse().read()
                break
            except OSError:
                time.sleep(0.3)
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)

        def api(path: str, params: dict, auth: str):
            def call():
                conn.request(
                    "GET",
                    f"{path}?{urllib.parse.urlencode(params)}",
                    headers={"Authorization": auth},
                )
                response = conn.getresponse()
                body = response.read()
                assert response.status == 200, body

            return call

        session = connections["cassandra"].connection.session
        rollups = session.prepare(
            "SELECT bucket, category, count, uniques, sum, min, max FROM bench_analytics.rollups "
            "WHERE project_id=? AND name=? AND metric=? AND granularity=? AND period=? "
            "AND bucket>=? AND bucket<?"
        )

        def raw(granularity: str, periods: list[str], start: dt.datetime, end: dt.datetime):
            naive = (start.replace(tzinfo=None), end.replace(tzinfo=None))

            def call():
                futures = [
                    session.execute_async(
                        rollups, (project.id, "event-0", "events", granularity, p, *naive)
                    )
                    for p in periods
                ]
                for future in futures:
                    list(future.result())

            return call

        def frame(start: dt.datetime, end: dt.datetime) -> str:
            return json.dumps({"start": start.isoformat(), "end": end.isoformat()})

        day30 = (START, START + dt.timedelta(days=30))
        hours48 = (START + dt.timedelta(days=5), START + dt.timedelta(days=7))
        days7 = (START + dt.timedelta(days=10), START + dt.timedelta(days=17))
        keen = f"/3.0/projects/{project.id}/queries"
        cases: list[tuple[str, str, str, dict[str, Any], Callable[[], None]]] = [
            (
                "30-day daily count",
                f"{keen}/count",
                keys["read"],
                {"event_collection": "event-0", "timeframe": frame(*day30), "interval": "daily"},
                raw("day", ["2026"], *day30),
            ),
            (
                "48-hour hourly count_unique",
                f"{keen}/count_unique",
                keys["read"],
                {
                    "event_collection": "event-0",
                    "target_property": "distinct_id",
                    "timeframe": frame(*hours48),
                    "interval": "hourly",
                },
                raw("hour", ["2026-11"], *hours48),
            ),
            (
                "7-day hourly SMA(24)",
                "/api/v1/insights/count",
                f"Bearer {keys['read']}",
                {
                    "event_collection": "event-0",
                    "timeframe": frame(*days7),
                    "interval": "hourly",
                    "kind": "sma",
                    "window": 24,
                },
                raw("hour", ["2026-11"], *days7),
            ),
        ]
        figures = []
        for label, path, auth, params, baseline in cases:
            raw50, raw95 = timed(baseline)
            cold50, cold95 = timed(api(path, {**params, "max_age": 0}, auth))
            _, warm95 = timed(api(path, params, auth))
            raw_is = "raw CQL read of the same rows (Python driver)"
            figures += [
                Figure("query", f"{label}, p50", cold50, raw50, raw_is, "ms"),
                Figure("query", f"{label}, p95", cold95, raw95, raw_is, "ms", "ratio ≤ 2, ≤ 25 ms"),
                Figure("query", f"{label}, p95 cached", warm95, raw95, raw_is, "ms"),
            ]
        figures += admin_figures(conn, project.id, frame(*day30), cases[0])
        publish(figures, args.figures_json)
    finally:
        web.terminate()
        web.wait(timeout=30)


def admin_figures(conn: http.client.HTTPConnection, project_id: str, day30: str, api_case) -> list:
    """p95 of the admin's metric browser (30-day daily chart) and dashboard, logged in
    through the login form, against the cached API answer of the same query."""
    import re

    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-pass-1")
    conn.request("GET", "/admin/login/")
    page = conn.getresponse()
    body = page.read().decode()
    csrf_cookie = re.search(r"csrftoken=([^;]+)", page.getheader("Set-Cookie") or "")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    assert csrf_cookie, "no CSRF cookie from the login page"
    assert token, "no CSRF token in the login form"
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token.group(1), "username": "bench", "password": "bench-pass-1"}
    )
    conn.request(
        "POST",
        "/admin/login/?next=/admin/",
        body=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf_cookie.group(1)}",
        },
    )
    login = conn.getresponse()
    login.read()
    session = re.search(r"sessionid=([^;]+)", login.getheader("Set-Cookie") or "")
    assert login.status == 302, f"admin login failed: {login.status}"
    assert session, "no session cookie after the login"
    cookie = f"csrftoken={csrf_cookie.group(1)}; sessionid={session.group(1)}"

    def page_of(path: str, params: dict):
        def call():
            conn.request(
                "GET", f"{path}?{urllib.parse.urlencode(params)}", headers={"Cookie": cookie}
            )
            response = conn.getresponse()
            body = response.read()
            assert response.status == 200, body[:500]
            assert b"data-chart" in body, "the page drew no chart"

        return call

    browse = {
        "project": project_id,
        "event_collection": "event-0",
        "analysis": "count",
        "timeframe": day30,
        "interval": "daily",
        "kind": "sma",
        "window": 7,
    }
    _, path, auth, params, _ = api_case

    def cached_api() -> None:
        conn.request(
            "GET", f"{path}?{urllib.parse.urlencode(params)}", headers={"Authorization": auth}
        )
        response = conn.getresponse()
        assert response.status == 200, response.read()
        response.read()

    _, api95 = timed(cached_api)
    _, browse95 = timed(page_of("/admin/movingavg/metricdefinition/browse/", browse))
    _, dashboard95 = timed(
        page_of(
            "/admin/movingavg/metricdefinition/dashboard/",
            {"project": project_id, "timezone": "UTC"},
        )
    )
    api_is = "the cached API answer of the same 30-day daily count"
    return [
        Figure(
            "admin",
            "metric browser, 30-day daily chart, p95",
            browse95,
            api95,
            api_is,
            "ms",
            "≤ 300 ms",
        ),
        Figure("admin", "dashboard (20 events), p95", dashboard95, api95, api_is, "ms", "≤ 300 ms"),
    ]


if __name__ == "__main__":
    main()
