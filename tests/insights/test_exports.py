"""Exports of raw events (``POST /api/v1/exports``, ``manage.py export``) against the real
services: Spark writes the files, and they read back (pyarrow, pandas) equal to the
events sent, each exactly once, after an interrupted export is resumed too."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from insights.aggregation import run_aggregation
from insights.exports import run_export
from insights.models import ExportJob
from tests.insights.test_deletions import (  # noqa: F401  (fixture)
    START,
    aggregation_queue,
    generate,
    master_client,
    produce,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "cassandra"], transaction=True),
]


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def sent(spark, topic_prefix, project_keys, aggregation_queue, settings, tmp_path):  # noqa: F811
    """300 events aggregated, exports under ``tmp_path``, 2 partitions per chunk."""
    settings.EXPORTS_DIR = tmp_path
    settings.EXPORT_CHUNK_PARTITIONS = 2
    events = generate(300, rng=random.Random(1919))
    produce(topic_prefix, events, project_keys["project_id"])
    assert run_aggregation().events_written == 300
    return project_keys, events


def by_id(events: list[dict]) -> dict[str, dict]:
    return {e["event_id"]: e for e in events}


def test_a_parquet_export_reads_back_equal_to_the_events_sent(sent) -> None:
    keys, events = sent
    api = master_client(keys)
    answer = api.post("/api/v1/exports", {"format": "parquet"}, format="json")
    assert answer.status_code == 202, answer.content
    export_id = answer.json()["id"]
    assert answer.json()["status"] == "pending"

    run_export(export_id)  # what the worker's chain of chunk tasks does

    shown = api.get(f"/api/v1/exports/{export_id}").json()
    assert shown["status"] == "succeeded"
    assert shown["events"] == 300
    # 2 event names x 3 UTC days = 6 partitions, 2 per chunk
    assert shown["progress"] == {"chunks_done": 3, "chunks": 3}
    assert len(shown["files"]) == 3
    table = pq.read_table(Path(shown["destination"])).to_pylist()
    assert len(table) == 300
    expected = by_id(events)
    assert set(row["event_id"] for row in table) == set(expected)
    for row in table:
        event = expected[row["event_id"]]
        assert row["name"] == event["name"]
        assert row["project_id"] == keys["project_id"]
        assert row["category"] == event["category"]
        assert row["distinct_id"] == event["distinct_id"]
        assert row["timestamp"].replace(tzinfo=dt.UTC) == event["timestamp"]
        assert row["source"] == "native"
        assert json.loads(row["properties"]) == event["properties"]
        assert row["keen"] == {
            "timestamp": iso(event["timestamp"]),
            "id": event["event_id"],
            "created_at": iso(event["timestamp"]),  # produce(): received at its timestamp
        }
    # a file downloads as written
    first = shown["files"][0]
    download = api.get(f"/api/v1/exports/{export_id}/files/{first['path']}")
    assert download.status_code == 200
    body = b"".join(download.streaming_content)  # type: ignore[attr-defined]
    assert body == (Path(shown["destination"]) / first["path"]).read_bytes()
    assert api.get(f"/api/v1/exports/{export_id}/files/../../etc/passwd").status_code == 404


def test_a_json_lines_export_of_one_event_in_a_timeframe(sent) -> None:
    keys, events = sent
    start, end = START + dt.timedelta(hours=10), START + dt.timedelta(hours=40)
    body = {
        "format": "jsonl",
        "event": "purchase",
        "timeframe": {"start": start.isoformat(), "end": end.isoformat()},
    }
    answer = master_client(keys).post("/api/v1/exports", body, format="json")
    assert answer.status_code == 202, answer.content
    job = run_export(answer.json()["id"])
    chosen = [e for e in events if e["name"] == "purchase" and start <= e["timestamp"] < end]
    assert job.events == len(chosen) > 30
    lines = [
        json.loads(line)
        for path in sorted(Path(job.destination).glob("part-*/part-*"))
        if not path.name.endswith(".crc")
        for line in path.read_text().splitlines()
    ]
    frame = pd.DataFrame(lines)
    assert sorted(frame["event_id"]) == sorted(e["event_id"] for e in chosen)
    assert list(frame["timestamp"]) == sorted(frame["timestamp"])  # oldest first, per chunk
    expected = by_id(chosen)
    for line in lines:
        event = expected[line["event_id"]]
        assert line["properties"] == event["properties"]  # the object itself
        assert line["context"] == {}
        assert line["timestamp"] == iso(event["timestamp"])
        assert line["keen"]["id"] == event["event_id"]
        assert set(line) == {
            "event_id",
            "name",
            "project_id",
            "category",
            "distinct_id",
            "timestamp",
            "received_at",
            "source",
            "properties",
            "context",
            "keen",
        }


def test_an_interrupted_export_resumes_and_writes_each_event_once(
    sent, monkeypatch, tmp_path
) -> None:
    """The second chunk's Spark job fails; the export records it, and ``manage.py export
    --resume`` writes the chunks not done: the files hold every event exactly once."""
    keys, events = sent
    from spark.jobs import export_events

    real = export_events.run
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            real(*args, **kwargs)  # the chunk's files are written, then the run dies
            raise ConnectionError("injected: the export's Spark job died")
        return real(*args, **kwargs)

    monkeypatch.setattr(export_events, "run", failing)
    destination = tmp_path / "by-command"
    with pytest.raises(ConnectionError, match="injected"):
        call_command(
            "export", project=keys["project_id"], format="parquet", destination=str(destination)
        )
    job = ExportJob.objects.get(project_id=keys["project_id"])
    assert job.status == "failed"
    assert "injected" in job.error
    assert len(job.chunks_done) == 1  # the fault hit while the export was working
    monkeypatch.setattr(export_events, "run", real)

    call_command("export", resume=str(job.pk))
    job.refresh_from_db()
    assert job.status == "succeeded"
    assert job.events == 300
    ids = pq.read_table(destination).column("event_id").to_pylist()
    assert sorted(ids) == sorted(e["event_id"] for e in events)


def test_bad_export_requests_name_the_field(sent) -> None:
    keys, _ = sent
    api = master_client(keys)
    answer = api.post("/api/v1/exports", {"format": "csv"}, format="json")
    assert answer.status_code == 400
    assert "format" in answer.content.decode()
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {keys['read_key']}")
    assert reader.post("/api/v1/exports", {"format": "jsonl"}, format="json").status_code in (
        401,
        403,
    )
    assert not ExportJob.objects.exists()


@pytest.fixture
def s3_server(settings, monkeypatch):
    """moto's S3 server, a real local process on loopback, with a bucket; its URL."""
    import socket
    import subprocess
    import sys
    import time

    import boto3

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    settings.EXPORT_S3_ENDPOINT_URL = url
    client = boto3.client("s3", endpoint_url=url)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.create_bucket(Bucket="exports")
            break
        except Exception:
            assert server.poll() is None, "moto_server exited"
            assert time.monotonic() < deadline, "moto_server did not answer in 30 s"
            time.sleep(0.2)
    yield client
    server.terminate()
    server.wait(timeout=30)


def test_an_export_to_an_s3_compatible_store(sent, s3_server, settings, tmp_path) -> None:
    """API exports go to EXPORT_DESTINATION (an s3:// URL): the objects read back equal the
    events sent, and an interrupted chunk's redo replaces what it had uploaded."""
    keys, events = sent
    settings.EXPORT_DESTINATION = "s3://exports/analytics"
    answer = master_client(keys).post("/api/v1/exports", {"format": "parquet"}, format="json")
    assert answer.status_code == 202, answer.content
    export_id = answer.json()["id"]
    assert answer.json()["destination"] == f"s3://exports/analytics/{export_id}"
    from insights.exports import run_chunk

    assert run_chunk(export_id)  # the first chunk: more to come
    job = ExportJob.objects.get(pk=export_id)
    job.chunks_done = {}  # as if the attempt had died after uploading, before recording it
    job.save()
    run_export(export_id)

    job.refresh_from_db()
    assert (job.status, job.events) == ("succeeded", 300)
    listed = s3_server.list_objects_v2(Bucket="exports", Prefix=f"analytics/{export_id}/")
    keys_found = [o["Key"] for o in listed["Contents"] if o["Key"].endswith(".parquet")]
    assert len(keys_found) == 3  # one file per chunk: the redo replaced the first one's
    ids = []
    for key in keys_found:
        local = tmp_path / key.replace("/", "_")
        s3_server.download_file("exports", key, str(local))
        ids += pq.read_table(local).column("event_id").to_pylist()
    assert sorted(ids) == sorted(e["event_id"] for e in events)
    shown = master_client(keys).get(f"/api/v1/exports/{export_id}").json()
    assert sorted(f["path"] for f in shown["files"] if f["path"].endswith(".parquet")) == sorted(
        key.removeprefix(f"analytics/{export_id}/") for key in keys_found
    )
