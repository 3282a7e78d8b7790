"""A KRaft cluster id is one the storage tool accepts as an argument."""

from __future__ import annotations

import base64
import uuid

import pytest

from services.localstack import kafka_service


def test_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """An id that base64-encodes to ``-...`` is drawn again (argparse reads it as an option)."""
    dash_first = uuid.UUID(bytes=bytes([0xF8]) + bytes(15))  # 0xF8 >> 2 == 62 -> "-"
    plain = uuid.UUID(bytes=bytes([0x10]) + bytes(15))
    draws = iter([dash_first, dash_first, plain])
    monkeypatch.setattr(kafka_service.uuid, "uuid4", lambda: next(draws))

    cluster_id = kafka_service.random_cluster_id()

    assert cluster_id == "EAAAAAAAAAAAAAAAAAAAAA"
    assert next(draws, None) is None, "expected the two dash-first ids to be redrawn"


def test_cluster_id_is_16_bytes_url_safe() -> None:
    """Every id decodes to 16 bytes and has no padding."""
    for _ in range(2000):
        cluster_id = kafka_service.random_cluster_id()
        assert not cluster_id.startswith("-")
        assert "=" not in cluster_id
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
