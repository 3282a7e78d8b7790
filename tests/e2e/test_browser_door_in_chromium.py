"""The browser door from a real headless Chromium page on another origin: a fetch() that
needs a CORS preflight, a navigator.sendBeacon, and <img> pixels, all reaching Kafka."""

from __future__ import annotations

import functools
import http.server
import json
import threading

import pytest

from tests.events.conftest import celery_worker, private_queue  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PAGE = """<!doctype html>
<html><body><script>
const API = %(api)s, KEY = %(key)s, PID = %(pid)s;
window.results = {};
fetch(API + "/api/v1/events", {
  method: "POST",
  headers: {"Content-Type": "application/json", "Authorization": "Bearer " + KEY},
  body: JSON.stringify({name: "chromium_fetch", event_id: "cr-fetch"}),
}).then(async (r) => {
  window.results.fetch = {status: r.status, body: await r.json()};
}).catch((e) => { window.results.fetch = {error: String(e)}; });

window.results.beacon = navigator.sendBeacon(API + "/v1/track", JSON.stringify(
  {writeKey: KEY, userId: "u1", event: "chromium_beacon", messageId: "cr-beacon"}));

function pixel(label, url) {
  const img = new Image();
  img.onload = () => {
    window.results[label] = {width: img.naturalWidth, height: img.naturalHeight};
  };
  img.onerror = () => { window.results[label] = {error: true}; };
  img.src = url;
}
const data = (value) => encodeURIComponent(btoa(JSON.stringify(value)));
pixel("keen_pixel", API + "/3.0/projects/" + PID + "/events/chromium_pixel?api_key=" + KEY
  + "&data=" + data({keen: {id: "cr-keen-pixel"}, via: "img"}));
pixel("segment_pixel", API + "/v1/pixel/track?data="
  + data({writeKey: KEY, userId: "u1", event: "chromium_segment_pixel",
           messageId: "cr-seg-pixel"}));
</script></body></html>
"""


@pytest.fixture
def other_origin(tmp_path):
    """Serves ``tmp_path`` from 127.0.0.1 on its own port: another origin than the live
    server's ``http://localhost:<port>``."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_fetch_beacon_and_pixels_from_another_origin(
    project_keys,
    kafka_tap,
    celery_worker,  # noqa: F811
    live_server,
    other_origin,
    browser,
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    folder, origin = other_origin
    assert not live_server.url.startswith(origin)
    page = PAGE % {
        "api": json.dumps(live_server.url),
        "key": json.dumps(project_keys["write_key"]),
        "pid": json.dumps(project_keys["project_id"]),
    }
    (folder / "index.html").write_text(page)
    browser.get(f"{origin}/index.html")
    expected = {"fetch", "beacon", "keen_pixel", "segment_pixel"}
    WebDriverWait(browser, 30).until(
        lambda driver: expected <= set(driver.execute_script("return window.results"))
    )
    results = browser.execute_script("return window.results")

    assert results["fetch"]["status"] == 202, results  # preflight passed, body readable
    assert results["fetch"]["body"]["event_ids"] == ["cr-fetch"]
    assert results["beacon"] is True
    assert results["keen_pixel"] == {"width": 1, "height": 1}
    assert results["segment_pixel"] == {"width": 1, "height": 1}

    ids = {"cr-fetch", "cr-beacon", "cr-keen-pixel", "cr-seg-pixel"}
    records = kafka_tap.collect(project_id=project_keys["project_id"], event_ids=ids)
    names = {record["event_id"]: record["name"] for _, record in records}
    assert names == {
        "cr-fetch": "chromium_fetch",
        "cr-beacon": "chromium_beacon",
        "cr-keen-pixel": "chromium_pixel",
        "cr-seg-pixel": "chromium_segment_pixel",
    }
    pixel = next(record for _, record in records if record["event_id"] == "cr-keen-pixel")
    assert pixel["properties"] == {"via": "img"}
