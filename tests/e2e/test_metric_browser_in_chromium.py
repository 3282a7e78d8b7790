"""End to end in a real headless browser (Debian's chromium): log in to the admin,
open the metric browser for aggregated events, check the Plotly chart (points, hover,
zoom), the numbers and the CSV download."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import urllib.parse

import pytest

from tests.e2e.conftest import downloaded, log_in
from tests.e2e.screens import save_screenshot
from tests.events.conftest import private_queue  # noqa: F401  (fixture)
from tests.insights.test_queries import DAY0, NAME, dataset, expected  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "cassandra"])]


def test_staff_sees_the_chart_and_numbers(dataset, live_server, browser, downloads) -> None:  # noqa: F811
    import pandas as pd
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    keys, events = dataset
    log_in(browser, live_server.url)

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

    wait = WebDriverWait(browser, 30)
    chart = browser.find_element(By.ID, "metric-chart")
    wait.until(lambda _: browser.execute_script("return !!arguments[0]._fullLayout", chart))
    assert chart.is_displayed()
    save_screenshot(browser, "metric-browser", downloads.parent / "screens")
    browser.execute_script("window.scrollTo(0, 0)")
    lengths = browser.execute_script("return arguments[0].data.map(t => t.x.length)", chart)
    assert lengths == [3, 3]  # the series and its moving average, a point per day

    days = [DAY0 + dt.timedelta(days=n) for n in range(4)]
    counts = [expected(events, "count", a, b) for a, b in itertools.pairwise(days)]
    rolling = pd.Series(counts).rolling(2, min_periods=1).mean().tolist()
    plotted = browser.execute_script("return arguments[0].data[0].y", chart)
    assert plotted == counts

    points = chart.find_elements(By.CSS_SELECTOR, ".scatterlayer .trace:first-child .points path")
    assert len(points) == 3
    ActionChains(browser).move_to_element(points[1]).perform()
    label = wait.until(
        expected_conditions.visibility_of_element_located(
            (By.CSS_SELECTOR, ".hoverlayer .hovertext")
        )
    )
    assert f"{counts[1]:,}" in label.text
    assert "2026-09-30" in label.text

    full = browser.execute_script("return arguments[0]._fullLayout.xaxis.range.slice()", chart)
    drag = chart.find_element(By.CSS_SELECTOR, ".nsewdrag")
    width = drag.size["width"]
    ActionChains(browser).move_to_element_with_offset(
        drag, -width // 4, 0
    ).click_and_hold().move_by_offset(width // 3, 0).release().perform()
    wait.until(
        lambda _: (
            browser.execute_script("return arguments[0]._fullLayout.xaxis.range.slice()", chart)
            != full
        )
    )
    zoomed = browser.execute_script("return arguments[0]._fullLayout.xaxis.range.slice()", chart)
    assert pd.Timestamp(zoomed[0]) > pd.Timestamp(full[0])
    assert pd.Timestamp(zoomed[1]) < pd.Timestamp(full[1])

    cells = browser.find_elements(By.CSS_SELECTOR, "#metric-table td.value")
    assert [int(c.get_attribute("data-value")) for c in cells] == counts
    assert [c.text for c in cells] == [f"{count:,}" for count in counts]
    averages = [
        float(c.get_attribute("data-value"))
        for c in browser.find_elements(By.CSS_SELECTOR, "#metric-table td.average")
    ]
    assert averages == pytest.approx(rolling)

    browser.find_element(By.ID, "csv-download").click()
    rows = list(csv.DictReader(io.StringIO(downloaded(downloads).read_text())))
    assert [int(row["value"]) for row in rows] == counts
    assert [float(row["moving_average"]) for row in rows] == pytest.approx(rolling)
