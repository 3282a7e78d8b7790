"""End to end in a real headless browser (Debian's chromium): log in to the admin,
open the metric browser for aggregated events, check the chart and the numbers."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
import urllib.parse

import pytest

from tests.events.conftest import private_queue  # noqa: F401  (fixture)
from tests.insights.test_queries import DAY0, NAME, dataset, expected  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "cassandra"])]


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail("chromium and chromedriver are missing: run `make install`", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    session.set_page_load_timeout(60)
    yield session
    session.quit()


def test_staff_sees_the_chart_and_numbers(dataset, live_server, browser) -> None:  # noqa: F811
    import pandas as pd
    from django.contrib.auth import get_user_model
    from selenium.webdriver.common.by import By

    keys, events = dataset
    get_user_model().objects.create_superuser("admin", "admin@example.com", "s3cret-pass")

    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys("s3cret-pass")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    assert "Log out" in browser.page_source or "logout" in browser.page_source.lower()

    frame = json.dumps({"start": "2026-09-29T00:00:00Z", "end": "2026-10-02T00:00:00Z"})
    query = urllib.parse.urlencode(
        {
            "project": keys["project_id"],
            "event_collection": NAME,
            "analysis": "count",
            "timeframe": frame,
            "interval": "daily",
            "kind": "sma",
            "window": 2,
        }
    )
    browser.get(f"{live_server.url}/admin/movingavg/metricdefinition/browse/?{query}")

    chart = browser.find_element(By.ID, "metric-chart")
    assert chart.is_displayed()
    series = browser.find_element(By.ID, "series-line").get_attribute("points").split()
    average = browser.find_element(By.ID, "average-line").get_attribute("points").split()
    assert len(series) == len(average) == 3

    days = [DAY0 + dt.timedelta(days=n) for n in range(4)]
    counts = [expected(events, "count", a, b) for a, b in itertools.pairwise(days)]
    cells = browser.find_elements(By.CSS_SELECTOR, "#metric-table td.value")
    assert [int(c.text) for c in cells] == counts
    averages = [
        float(c.text) for c in browser.find_elements(By.CSS_SELECTOR, "#metric-table td.average")
    ]
    assert averages == pytest.approx(pd.Series(counts).rolling(2, min_periods=1).mean().tolist())
