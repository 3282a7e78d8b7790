"""Hostile request bodies get a clean 4xx naming the problem, in bounded time and memory,
on every front door that takes a body."""

from __future__ import annotations

import base64
import gzip
import json
import time
import tracemalloc
from typing import Any

import pytest
from rest_framework.test import APIClient

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "cassandra"]),
]

MAX_SECONDS = 2.0
MAX_PEAK_BYTES = 16 * 1024 * 1024


def _doors(keys: dict[str, str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each endpoint that reads a body, with a valid key in its expected form."""
    project = keys["project_id"]
    basic = base64.b64encode(f"{keys['write_key']}:".encode()).decode()
    return {
        "native": ("/api/v1/events", {"HTTP_AUTHORIZATION": f"Bearer {keys['write_key']}"}),
        "segment": ("/v1/batch", {"HTTP_AUTHORIZATION": f"Basic {basic}"}),
        "keen": (f"/3.0/projects/{project}/events", {"HTTP_AUTHORIZATION": keys["write_key"]}),
        "keen query": (
            f"/3.0/projects/{project}/queries/count",
            {"HTTP_AUTHORIZATION": keys["read_key"]},
        ),
        "native query": (
            "/api/v1/insights/count",
            {"HTTP_AUTHORIZATION": f"Bearer {keys['read_key']}"},
        ),
    }


def _gzip_bomb() -> bytes:
    return gzip.compress(b"[" + b"0," * (50 * 1024 * 1024) + b"0]", compresslevel=9)


HOSTILE: dict[str, tuple[bytes, dict[str, Any], set[int], str]] = {
    # name: (body, extra headers, accepted statuses, words the message must contain)
    "gzip bomb": (_gzip_bomb(), {"HTTP_CONTENT_ENCODING": "gzip"}, {413}, "after decompression"),
    "deep nesting": (b"[" * 200_000 + b"]" * 200_000, {}, {400, 413}, ""),
    "deep nesting, small": (b"[" * 50_000 + b"]" * 50_000, {}, {400}, "nested too deeply"),
    "huge string": (json.dumps({"name": "x" * 3_000_000}).encode(), {}, {413}, "limit"),
    "invalid utf-8": (b'{"name": "\xff\xfe\xfd"}', {}, {400}, "UTF-8"),
    "duplicate keys": (b'{"name": "a", "name": "b"}', {}, {400}, "'name' twice"),
    "not json": (b"\x00\x01\x02", {}, {400}, "JSON"),
    "integer of 5000 digits": (b'{"name": "a", "n": ' + b"9" * 5000 + b"}", {}, {400}, "4300"),
    "NaN": (b'{"name": "a", "timezone": NaN, "limit": NaN}', {}, {400}, "NaN"),
    "Infinity": (b'{"name": "a", "window": Infinity}', {}, {400}, "Infinity"),
    "-Infinity": (b'{"name": "a", "limit": -Infinity}', {}, {400}, "Infinity"),
    "a number past a double": (b'{"name": "a", "n": 1e400}', {}, {400}, "range of a double"),
    "keys equal once surrogates are replaced": (
        b'{"name": "a", "k\\ud800": 1, "k\\udbff": 2}',
        {},
        {400},
        "same once lone surrogates",
    ),
}


@pytest.mark.parametrize("door", ["native", "segment", "keen", "keen query", "native query"])
@pytest.mark.parametrize("hostile", list(HOSTILE))
def test_hostile_body_gets_a_clean_4xx(project_keys, door: str, hostile: str) -> None:
    path, auth = _doors(project_keys)[door]
    body, headers, statuses, words = HOSTILE[hostile]
    client = APIClient()

    def send():
        # Django encodes a bytes body as it is; the stubs only name str.
        return client.generic("POST", path, body, "application/json", **auth, **headers)  # type: ignore[arg-type]

    send()  # warm-up: imports and URL resolution are not what is measured
    started = time.perf_counter()
    response = send()
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    try:
        send()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code in statuses, response.content[:300]
    text = response.content.decode()
    assert words in text, text[:300]
    assert elapsed < MAX_SECONDS, f"{elapsed:.2f}s"
    assert peak < MAX_PEAK_BYTES + 2 * len(body), f"peak {peak / 1e6:.1f} MB"
