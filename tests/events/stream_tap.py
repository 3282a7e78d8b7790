"""Read what the web appended to a test's ingestion streams (before any drain)."""

from __future__ import annotations

import json

from django.conf import settings

from events.stream import client as _client


def appended(prefix: str | None = None) -> dict[bytes, dict]:
    """Every entry still in the streams of ``prefix`` (default: the current setting),
    as {stream entry key: record}; the entry key is ``<stream>/<entry id>``."""
    prefix = prefix or settings.EVENTS_STREAM_PREFIX
    client = _client()
    found: dict[bytes, dict] = {}
    for shard in range(settings.EVENTS_STREAM_SHARDS):
        stream = f"{prefix}:{shard}"
        for entry_id, fields in client.xrange(stream) or []:
            # Replies are not decoded, and a range holds no deleted (field-less) entry.
            assert isinstance(entry_id, bytes)
            assert fields is not None
            found[stream.encode() + b"/" + entry_id] = json.loads(fields[b"v"])
    return found


def delete_streams(prefix: str) -> None:
    """Drop every stream (and drain flag) of ``prefix``."""
    client = _client()
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
