"""Drains and the consumer group (real Redis): one drain chain per shard (a drain that
loses its flag to a request hands over), and exited consumers are forgotten.

The interleaving is forced, not waited for: the drain's last read (the one after it
clears the flag) is preceded by an append, exactly what a request arriving in that
window does.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from django.test import override_settings

from events import stream

if TYPE_CHECKING:
    from pytest_django.fixtures import Settings

pytestmark = [pytest.mark.integration]


def _append(name: str) -> list[str]:
    event = stream.Encoded(topic="t", key=b"one-user", value=name.encode())
    return stream.append([event], rate_key=None, limit=0, window=1)


def test_a_drain_that_loses_its_flag_after_its_last_read_hands_over(
    services_up: None,
    private_queue: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.EVENTS_DRAIN_LINGER_MS = 50
    settings.EVENTS_DRAIN_COLLECT_MS = 0
    (key,) = _append("first")  # this request set the flag: the drain below is its drain
    real_read_new = stream.read_new
    triggered: list[list[str]] = []

    def read_new(shard: str, **kwargs: Any) -> list[stream.Entry]:
        flag_cleared = not stream.client().exists(stream.flag_key(shard))
        if flag_cleared and not triggered:
            triggered.append(_append("second"))  # a request in the window
        return real_read_new(shard, **kwargs)

    monkeypatch.setattr(stream, "read_new", read_new)
    forwarded: list[bytes] = []
    count, again_in = stream.drain(
        key,
        forward=lambda entries: forwarded.extend(entry.value for entry in entries),
        consumer="handoff-test",
        budget_seconds=30,
    )
    assert triggered == [[key]], "the request set the flag, so it published a drain"
    assert forwarded == [b"first", b"second"]
    assert (count, again_in) == (2, None)
    # The drain the request published owns the flag now: this one left it alone and ended.
    assert stream.client().exists(stream.flag_key(key))
    assert stream.client().xlen(key) == 0


def test_a_drain_that_keeps_its_flag_after_its_last_read_goes_on(
    services_up: None, private_queue: str, settings: Settings
) -> None:
    settings.EVENTS_DRAIN_LINGER_MS = 50
    settings.EVENTS_DRAIN_COLLECT_MS = 0
    (key,) = _append("only")
    count, again_in = stream.drain(
        key, forward=lambda entries: None, consumer="handoff-test", budget_seconds=30
    )
    assert (count, again_in) == (1, None)
    assert not stream.client().exists(stream.flag_key(key)), "an idle shard's flag is clear"


def test_idle_consumers_holding_nothing_are_forgotten_and_holders_kept(
    services_up: None, private_queue: str
) -> None:
    from events.tasks import drain_overdue_streams

    (key,) = _append("held")
    _append("forwarded")
    _append("forwarded too")
    redis_client = stream.client()
    stream.read_recovered(key, consumer="holder", count=1)  # makes the group
    assert len(stream.read_new(key, consumer="holder", count=1)) == 1
    stream.done(key, stream.read_new(key, consumer="exited", count=1))  # holds nothing
    assert stream.forget_idle_consumers(key, idle_seconds=3600) == []  # neither idle enough
    time.sleep(0.05)
    assert stream.forget_idle_consumers(key, idle_seconds=0.01) == ["exited"]
    names = [c["name"].decode() for c in redis_client.xinfo_consumers(key, stream.GROUP)]
    assert names == ["holder"]
    assert redis_client.xpending(key, stream.GROUP)["pending"] == 1  # still there to redo
    # The beat safety net does it on every run.
    stream.done(key, stream.read_new(key, consumer="exited too", count=1))
    time.sleep(0.05)
    with override_settings(EVENTS_STREAM_CONSUMER_IDLE_SECONDS=0.01):
        drain_overdue_streams()
    names = [c["name"].decode() for c in redis_client.xinfo_consumers(key, stream.GROUP)]
    assert names == ["holder"]
