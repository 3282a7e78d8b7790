"""The loopback cluster's per-node configuration (pure: nothing is started)."""

from __future__ import annotations

from pathlib import Path

from services.cluster import topology
from services.cluster.cluster import Cluster


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
