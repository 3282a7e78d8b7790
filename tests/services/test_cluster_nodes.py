"""The loopback cluster's per-node configuration (pure: nothing is started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.cluster import cluster as cluster_module
from services.cluster import topology
from services.cluster.cluster import Cluster
from services.localstack.errors import StackError


def _cluster(tmp_path: Path) -> Cluster:
    return Cluster(topology.Layout(tmp_path / "cluster"))


def _properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_each_kafka_node_has_its_address_id_and_log_dir_and_all_share_one_quorum(
    tmp_path: Path,
) -> None:
    nodes = _cluster(tmp_path).kafka
    props = [_properties(node._properties()) for node in nodes]
    voters = "1@127.0.0.1:9093,2@127.0.0.2:9093,3@127.0.0.3:9093"
    for n, (node, p) in enumerate(zip(nodes, props, strict=True), 1):
        assert p["node.id"] == str(n)
        assert p["advertised.listeners"] == f"PLAINTEXT://127.0.0.{n}:9092"
        assert p["listeners"] == f"PLAINTEXT://127.0.0.{n}:9092,CONTROLLER://127.0.0.{n}:9093"
        assert p["controller.quorum.voters"] == voters
        assert (p["default.replication.factor"], p["min.insync.replicas"]) == ("3", "2")
        assert p["auto.create.topics.enable"] == "false"
        assert node.timeout_key == "kafka"
    assert len({p["log.dirs"] for p in props}) == 3
    assert len({node.node_conf_dir for node in nodes}) == 3
    assert len({node.cluster_id() for node in nodes}) == 1


def test_each_cassandra_node_listens_on_its_address_with_one_seed_and_one_data_centre(
    tmp_path: Path,
) -> None:
    nodes = _cluster(tmp_path).cassandra
    for n, node in enumerate(nodes, 1):
        yaml = node._yaml(node.node_dir)
        assert f"listen_address: 127.0.0.{n}\n" in yaml
        assert f"rpc_address: 127.0.0.{n}\n" in yaml
        assert 'seeds: "127.0.0.1:7000"' in yaml
        assert "endpoint_snitch: GossipingPropertyFileSnitch" in yaml
        assert "allocate_tokens_for_local_replication_factor: 3" in yaml
        assert node.timeout_key == "cassandra"
        node.write_topology(tmp_path)
        assert (tmp_path / "cassandra-rackdc.properties").read_text() == "dc=dc1\nrack=rack1\n"
    assert len({node.node_dir for node in nodes}) == 3
    assert len({node.node_conf_dir for node in nodes}) == 3


def _failing_start(failures: int, node_dir: Path) -> tuple[list[int], object]:
    """A stand-in for launching a node: it writes the node's data, then fails
    ``failures`` times before it succeeds; the list counts the attempts."""
    attempts: list[int] = []

    def start(group: object, progress: object) -> None:
        attempts.append(1)
        node_dir.mkdir(parents=True, exist_ok=True)
        (node_dir / f"attempt-{len(attempts)}").write_text("")
        if len(attempts) <= failures:
            raise StackError("cassandra-3 exited during startup")

    return attempts, start


def test_a_new_cassandra_node_that_fails_to_join_is_wiped_and_started_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = _cluster(tmp_path).cassandra[2]
    attempts, start = _failing_start(cluster_module.JOIN_ATTEMPTS - 1, node.node_dir)
    monkeypatch.setattr(cluster_module, "_start_together", start)
    said: list[str] = []
    cluster_module._join_ring(node, said.append)
    assert len(attempts) == cluster_module.JOIN_ATTEMPTS
    last = f"attempt-{cluster_module.JOIN_ATTEMPTS}"
    assert sorted(p.name for p in node.node_dir.iterdir()) == [last]  # earlier data wiped
    assert any("failed to join the ring on attempt 1" in line for line in said)


def test_a_new_node_gives_up_after_the_last_attempt_and_a_node_with_data_is_never_wiped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = _cluster(tmp_path).cassandra[2]
    attempts, start = _failing_start(cluster_module.JOIN_ATTEMPTS, node.node_dir)
    monkeypatch.setattr(cluster_module, "_start_together", start)
    with pytest.raises(StackError):
        cluster_module._join_ring(node, lambda line: None)
    assert len(attempts) == cluster_module.JOIN_ATTEMPTS

    attempts, start = _failing_start(1, node.node_dir)  # the node now has data
    monkeypatch.setattr(cluster_module, "_start_together", start)
    with pytest.raises(StackError):
        cluster_module._join_ring(node, lambda line: None)
    assert len(attempts) == 1
    assert (node.node_dir / "attempt-1").exists()
