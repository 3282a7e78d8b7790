"""A 2xx means counted: lone surrogates, stored-size limits, and the DLQ for what can never
be produced (real Redis, Kafka and Celery worker)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings
from kafka import KafkaConsumer, TopicPartition
from rest_framework.test import APIClient

from tests.conftest import WorkerProcess

if TYPE_CHECKING:
    from tests.events.kafka_tap import KafkaTap

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

REPLACED = "\ufffd"


def _post(path: str, body: object, **headers: Any):
    # json.dumps escapes a lone surrogate as \udXXX: exactly what a browser's
    # JSON.stringify sends for a string cut in the middle of a surrogate pair.
    return APIClient().generic("POST", path, json.dumps(body), "application/json", **headers)


def _read_topic(topic: str, *, count: int, timeout: float = 60) -> list[dict]:
    """The first ``count`` records of ``topic`` (a fresh test topic), decoded."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, enable_auto_commit=False
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        found: list[dict] = []
        deadline = time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=200).values():
                found.extend(json.loads(record.value) for record in records)
        return found
    finally:
        consumer.close()


@pytest.fixture
def worker(topic_prefix: str, private_queue: str) -> Iterator[WorkerProcess]:
    process = WorkerProcess(
        private_queue,
        env={"KAFKA_TOPIC_PREFIX": topic_prefix, "FORWARD_MAX_UNEXPECTED_FAILURES": "2"},
    )
    process.start()
    yield process
    process.stop()


def test_lone_surrogates_are_replaced_on_every_door_and_counted(
    project_keys: dict[str, str], kafka_tap: KafkaTap, celery_worker: WorkerProcess
) -> None:
    write = project_keys["write_key"]
    project = project_keys["project_id"]
    native = _post(
        "/api/v1/events",
        {
            "batch": [
                {"name": "ok", "event_id": "n-ok", "distinct_id": "fine"},
                {
                    "name": "cut\ud83d",
                    "event_id": "n-bad",
                    "distinct_id": "bad\ud800",
                    "properties": {"title\udc00": "x\udfff"},
                },
            ]
        },
        HTTP_AUTHORIZATION=f"Bearer {write}",
    )
    assert native.status_code == 202, native.content
    segment = _post(
        "/v1/batch",
        {
            "batch": [
                {"type": "track", "event": "Played", "userId": "u\ud800", "messageId": "s-bad"}
            ]
        },
        HTTP_AUTHORIZATION=f"Bearer {write}",
    )
    assert segment.status_code == 200, segment.content
    keen = _post(
        f"/3.0/projects/{project}/events/clicks",
        {"user": {"id": "k\udbff"}, "keen": {"id": "k-bad"}},
        HTTP_AUTHORIZATION=write,
    )
    assert keen.status_code == 201, keen.content

    records = kafka_tap.collect(project_id=project, expected=4, timeout=60)
    by_id = {record["event_id"]: (topic, record) for topic, record in records}
    assert set(by_id) == {"n-ok", "n-bad", "s-bad", "k-bad"}
    assert not any(topic.endswith(".dlq") for topic, _ in by_id.values())
    assert by_id["n-bad"][1]["distinct_id"] == f"bad{REPLACED}"
    assert by_id["n-bad"][1]["name"] == f"cut{REPLACED}"
    assert by_id["n-bad"][1]["properties"] == {f"title{REPLACED}": f"x{REPLACED}"}
    assert by_id["s-bad"][1]["distinct_id"] == f"u{REPLACED}"
    assert by_id["k-bad"][1]["properties"]["user"]["id"] == f"k{REPLACED}"


def test_a_batch_context_cannot_push_an_event_past_the_limit(project_keys: dict[str, str]) -> None:
    limit = 32 * 1024
    body = {
        "context": {"blob": "c" * limit},
        "batch": [
            {"type": "track", "event": "e", "userId": f"u{n}", "messageId": f"m{n}"}
            for n in range(5)
        ],
    }
    response = _post("/v1/batch", body, HTTP_AUTHORIZATION=f"Bearer {project_keys['write_key']}")
    assert response.status_code == 413, response.content
    assert f"exceeding the limit of {limit} bytes" in response.content.decode()
    assert "as stored" in response.content.decode()


def test_a_batch_context_cannot_multiply_a_request_past_the_stored_limit(
    project_keys: dict[str, str],
) -> None:
    limit = 8 * 1024 * 1024
    body = {
        "context": {"blob": "c" * 20_000},  # under the per-event limit, 20 KB x 500 = 10 MB
        "batch": [
            {"type": "track", "event": "e", "userId": f"u{n}", "messageId": f"m{n}"}
            for n in range(500)
        ],
    }
    assert len(json.dumps(body)) < 500 * 1024  # the body itself is well within its limit
    response = _post("/v1/batch", body, HTTP_AUTHORIZATION=f"Bearer {project_keys['write_key']}")
    assert response.status_code == 413, response.content
    assert f"exceeding the limit of {limit} bytes per request" in response.content.decode()


def test_one_oversized_message_is_rejected_and_the_rest_accepted(
    project_keys: dict[str, str], kafka_tap: KafkaTap, celery_worker: WorkerProcess
) -> None:
    body = {
        "context": {"blob": "c" * 20_000},
        "batch": [
            {"type": "track", "event": "e", "userId": "a", "messageId": "small-1"},
            {
                "type": "track",
                "event": "e",
                "userId": "b",
                "messageId": "big",
                "context": {"more": "m" * 15_000},
            },
            {"type": "track", "event": "e", "userId": "c", "messageId": "small-2"},
        ],
    }
    response = _post("/v1/batch", body, HTTP_AUTHORIZATION=f"Bearer {project_keys['write_key']}")
    assert response.status_code == 200, response.content
    assert [error["index"] for error in response.json()["rejected"]] == [1]
    records = kafka_tap.collect(project_id=project_keys["project_id"], expected=2, timeout=60)
    assert {record["event_id"] for _, record in records} == {"small-1", "small-2"}


def _append(entries: list[tuple[str, bytes, bytes]]) -> list[str]:
    """Append raw (topic, key, value) entries to the test's streams as the web would,
    and schedule their drains; the streams written."""
    from events import stream
    from events.tasks import drain_stream

    encoded = [stream.Encoded(topic=t, key=k, value=v) for t, k, v in entries]
    triggered = stream.append(encoded, rate_key=None, limit=0, window=1)
    for key in triggered:
        drain_stream.apply_async(args=(key,), queue=settings.CELERY_TASK_DEFAULT_QUEUE)
    return triggered


def _record(event_id: str, project: str, **overrides: object) -> dict:
    return {
        "event_id": event_id,
        "project_id": project,
        "name": "e",
        "category": "server",
        "distinct_id": "u",
        "timestamp": "2026-11-30T10:00:00.000Z",
        "received_at": "2026-11-30T10:00:00.000Z",
        "properties": {},
        "context": {},
        "source": "native",
        "numeric_properties": {},
        **overrides,
    }


def _drained(streams: list[str], timeout: float = 10) -> bool:
    from events import stream

    deadline = time.monotonic() + timeout
    while any(stream.client().xlen(key) for key in streams) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not any(stream.client().xlen(key) for key in streams)


def test_records_that_can_never_be_produced_reach_the_dlq_and_the_rest_their_topic(
    topic_prefix: str, private_queue: str, worker: WorkerProcess
) -> None:
    project = f"p{uuid.uuid4().hex[:8]}"
    topic = f"{topic_prefix}.server"
    good = json.dumps(_record("good", project)).encode()
    too_large = json.dumps(_record("too-large", project, properties={"b": "b" * 2_000_000}))
    streams = _append([(topic, b"k1", good), (topic, b"k2", too_large.encode())])
    dead = _read_topic(f"{topic_prefix}.dlq", count=1)
    assert [letter["event_id"] for letter in dead] == ["too-large"]
    assert "MessageSizeTooLargeError" in dead[0]["reason"]
    assert dead[0]["stage"] == "forward"
    delivered = _read_topic(topic, count=1)
    assert [record["event_id"] for record in delivered] == ["good"]
    assert _drained(streams), "the entries must leave the stream once handled"


def test_a_batch_that_keeps_failing_reaches_the_dlq_instead_of_retrying_forever(
    topic_prefix: str, private_queue: str, worker: WorkerProcess
) -> None:
    # An entry no topic can take (the producer asserts on an empty topic name): it fails
    # the same way on every attempt, neither Kafka nor Redis being unreachable.
    streams = _append([("", b"k", b"{not json")])
    dead = _read_topic(f"{topic_prefix}.dlq", count=1, timeout=90)
    assert len(dead) == 1
    assert dead[0]["reason"].startswith("forwarding failed 2 times:"), dead[0]["reason"]
    assert "{not json" in json.dumps(dead[0]["record"])
    assert _drained(streams)


def test_only_the_entry_that_keeps_failing_reaches_the_dlq_the_rest_their_topic(
    topic_prefix: str, private_queue: str, worker: WorkerProcess
) -> None:
    # One batch (one key, so one shard): a good entry, one no topic can take, another good.
    project = f"p{uuid.uuid4().hex[:8]}"
    topic = f"{topic_prefix}.server"
    good = [json.dumps(_record(f"good-{n}", project)).encode() for n in range(2)]
    streams = _append([(topic, b"k", good[0]), ("", b"k", b"{poison"), (topic, b"k", good[1])])
    dead = _read_topic(f"{topic_prefix}.dlq", count=1, timeout=90)
    assert len(dead) == 1
    assert "{poison" in json.dumps(dead[0]["record"]), dead
    assert dead[0]["reason"].startswith("forwarding failed 2 times:"), dead[0]["reason"]
    delivered = _read_topic(topic, count=2)
    assert {record["event_id"] for record in delivered} == {"good-0", "good-1"}
    assert _drained(streams)
    time.sleep(2)  # nothing else may follow: the good entries are not dead letters too
    assert len(_read_topic(f"{topic_prefix}.dlq", count=2, timeout=3)) == 1
