"""End to end in headless Chromium: a staff user logs in, opens the dashboard of a
project with recent events, and sees the API's numbers and charts of the API's series."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import log_in
from tests.e2e.screens import save_screenshot
from tests.insights.test_queries import keen
from tests.movingavg.recent_data import NAMES, recent_dataset  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "cassandra"])]


def drawn(chart):
    """A WebDriverWait condition: Plotly has drawn ``chart``."""
    return lambda driver: driver.execute_script("return !!arguments[0]._fullLayout", chart)


def test_staff_sees_the_dashboard(recent_dataset, live_server, browser, tmp_path) -> None:  # noqa: F811
    from django.test import Client
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    keys, events = recent_dataset
    log_in(browser, live_server.url)
    browser.find_element(By.CSS_SELECTOR, "#dashboard-link a").click()
    wait = WebDriverWait(browser, 30)
    wait.until(lambda _: "/dashboard/" in browser.current_url)

    def number(tile_id: str) -> int:
        cell = browser.find_element(By.CSS_SELECTOR, f"#{tile_id} .number")
        return int(cell.get_attribute("data-value"))

    api = Client()

    def count(timeframe: str, name: str, **extra: str) -> object:
        params = {"event_collection": name, "timeframe": timeframe, "timezone": "UTC"}
        return keen(api, keys, "count", **params, **extra).json()["result"]

    assert number("tile-events-24h") == sum(int(str(count("this_24_hours", n))) for n in NAMES)
    assert number("tile-events-30d") == len(events)
    shown = browser.find_element(By.CSS_SELECTOR, "#tile-events-30d .number").text
    assert shown == f"{len(events):,}"

    for chart_id, timeframe, interval in (
        ("chart-24h", "this_24_hours", "hourly"),
        ("chart-30d", "this_30_days", "daily"),
    ):
        chart = browser.find_element(By.ID, chart_id)
        wait.until(drawn(chart))
        points = browser.execute_script("return arguments[0].data[0].x.length", chart)
        series = count(timeframe, "purchase", interval=interval)
        assert isinstance(series, list)
        assert points == len(series)

    for row in browser.find_elements(By.CSS_SELECTOR, "#top-events tbody tr"):
        name = row.find_element(By.CSS_SELECTOR, "td.name").text
        cell = row.find_element(By.CSS_SELECTOR, "td.count")
        assert int(cell.get_attribute("data-value")) == count("this_30_days", name)

    cards = browser.find_elements(By.CSS_SELECTOR, ".metric-card")
    assert len(cards) == 1
    save_screenshot(browser, "dashboard", tmp_path)
    cards[0].click()
    wait.until(lambda _: "/browse/" in browser.current_url)
    assert browser.find_element(By.ID, "metric-chart").is_displayed()
