"""Where the e2e tests save their screenshots: ``SCREENSHOTS_DIR`` (``make screenshots``
sets it to ``docs/screenshots``, the README's), else the test's temporary folder."""

from __future__ import annotations

import os
from pathlib import Path


def save_screenshot(browser, name: str, fallback: Path) -> Path:
    """Save the whole page as ``<dir>/<name>.png`` and return its path."""
    directory = Path(os.environ.get("SCREENSHOTS_DIR") or fallback)
    directory.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, max(800, min(int(height) + 40, 2400)))
    path = directory / f"{name}.png"
    assert browser.save_screenshot(str(path)), path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path
