"""The e2e tests' headless Chromium (Debian's chromium and chromedriver), with a
download folder, and the admin login they share."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def browser(downloads: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail("chromium and chromedriver are missing: run `make install`", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    session.set_page_load_timeout(60)
    session.set_window_size(1280, 1000)  # the screenshots' width (tests/e2e/screens.py)
    session.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    yield session
    session.quit()


def log_in(browser, base_url: str) -> None:
    """Create a superuser and log in as it through the admin's login form."""
    from django.contrib.auth import get_user_model
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    get_user_model().objects.create_superuser("admin", "admin@example.com", "s3cret-pass")
    browser.get(f"{base_url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys("s3cret-pass")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 30).until(lambda _: "/admin/login/" not in browser.current_url)
    assert "logout" in browser.page_source.lower()


def downloaded(directory: Path, *, timeout: float = 30) -> Path:
    """The one finished download in ``directory`` (waits for Chromium to write it).

    Chromium first creates an empty placeholder under the final name, writes to a
    ``.crdownload`` file, then renames it over the placeholder: a download is finished
    when no ``.crdownload`` is left and the file is not empty."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            files = {p: p.stat().st_size for p in directory.iterdir()}
        except FileNotFoundError:  # renamed while listed
            files = {}
        done = [p for p, size in files.items() if not p.name.endswith(".crdownload") and size]
        if done and len(done) == len(files):
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no download in {directory} after {timeout}s")
