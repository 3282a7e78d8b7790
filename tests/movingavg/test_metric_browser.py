"""The admin's metric browser (movingavg admin pages): staff only, a server-rendered
chart with the moving-average overlay and the table of numbers, from real rollups."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from movingavg.models import MetricDefinition
from tests.insights.test_queries import DAY0, NAME, dataset, expected  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "cassandra"])]


def test_metric_page_shows_the_series_and_its_moving_average(dataset) -> None:  # noqa: F811
    import pandas as pd

    keys, events = dataset
    from events.models import Project

    project = Project.objects.get(id=keys["project_id"])
    metric = MetricDefinition.objects.create(
        project=project,
        name="daily purchases",
        event_collection=NAME,
        analysis="count",
        interval="daily",
        kind="sma",
        window=2,
    )
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("admin", "a@example.com", "pw"))

    listing = staff.get("/admin/movingavg/metricdefinition/")
    assert listing.status_code == 200
    link = re.search(r'href="(/admin/movingavg/metricdefinition/browse/\?[^"]+)"', listing.text)
    assert link is not None
    url = link.group(1).replace("&amp;", "&")
    assert "event_collection=purchase" in url
    assert staff.get(url).status_code == 200

    frame = json.dumps({"start": "2026-09-29T00:00:00Z", "end": "2026-10-02T00:00:00Z"})
    browse: dict[str, str | int] = {
        "project": project.id,
        "event_collection": NAME,
        "analysis": "count",
        "timeframe": frame,
        "interval": "daily",
        "kind": "sma",
        "window": 2,
    }
    page = staff.get("/admin/movingavg/metricdefinition/browse/", browse)
    assert page.status_code == 200
    html = page.text
    assert 'id="metric-chart" data-chart="metric-data"' in html
    assert "/static/plotly/plotly.min.js" in html
    chart_data = re.search(r'<script id="metric-data" type="application/json">(.*?)</script>', html)
    assert chart_data is not None
    chart = json.loads(chart_data.group(1))
    assert len(chart["x"]) == len(chart["values"]) == len(chart["averages"]) == 3
    days = [DAY0 + dt.timedelta(days=n) for n in range(4)]
    counts = [expected(events, "count", a, b) for a, b in itertools.pairwise(days)]
    values = [int(v) for v in re.findall(r'<td class="value" data-value="([^"]*)"', html)]
    averages = [float(v) for v in re.findall(r'<td class="average" data-value="([^"]*)"', html)]
    rolling = pd.Series(counts).rolling(2, min_periods=1).mean().tolist()
    assert values == counts == chart["values"]
    assert averages == pytest.approx(rolling)
    assert chart["averages"] == pytest.approx(rolling)
    shown = re.findall(r'<td class="value" data-value="[^"]*"[^>]*>([^<]*)</td>', html)
    assert shown == [f"{count:,}" for count in counts]
    assert re.findall(r'<td title="[^"]*">([^<]*)</td>', html) == [
        "2026-09-29",
        "2026-09-30",
        "2026-10-01",
    ]

    download = staff.get("/admin/movingavg/metricdefinition/browse/", {**browse, "format": "csv"})
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/csv")
    assert "attachment" in download["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    assert [int(row["value"]) for row in rows] == counts
    assert [float(row["moving_average"]) for row in rows] == pytest.approx(rolling)
    assert rows[0]["bucket_start"] == "2026-09-29T00:00:00.000Z"

    paris = staff.get(
        "/admin/movingavg/metricdefinition/browse/",
        {
            **browse,
            "timezone": "Europe/Paris",
            "timeframe": json.dumps(
                {"start": "2026-09-29T00:00:00+02:00", "end": "2026-10-02T00:00:00+02:00"}
            ),
            "format": "csv",
        },
    )
    assert paris["Content-Type"].startswith("text/csv"), paris.content[:2000]
    starts = [row["bucket_start"] for row in csv.DictReader(io.StringIO(paris.content.decode()))]
    assert len(starts) == 3
    assert all(start.endswith("T00:00:00.000+02:00") for start in starts)
    wrong_zone = staff.get(
        "/admin/movingavg/metricdefinition/browse/", {**browse, "timezone": "Mars/Base"}
    )
    assert wrong_zone.status_code == 200
    assert "timezone" in wrong_zone.text
    assert 'id="csv-download"' not in wrong_zone.text
    assert metric.query_params()["window"] == 2

    rollups = staff.get(
        "/admin/movingavg/metricdefinition/rollups/",
        {
            "project": project.id,
            "event_collection": NAME,
            "metric": "events",
            "granularity": "day",
            "period": "2026",
        },
    )
    assert rollups.status_code == 200
    stored = [int(v) for v in re.findall(r'<td class="count">([^<]*)</td>', rollups.text)]
    # Each day has a row per category and one for "all": their counts add up twice.
    assert sum(stored) == 2 * sum(counts)

    outsider = Client()
    response = outsider.get("/admin/movingavg/metricdefinition/browse/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
