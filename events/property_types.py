"""The schema of each event collection, as Keen's ``get_collection`` reports it: every
property path ever forwarded, with its JSON type (``string``, ``num``, ``bool``,
``list``, ``null``, and ``datetime`` for Keen's timestamps).

Kept current by the forwarding worker, from each batch it has delivered to Kafka, in
Redis: a hash per (project, collection) of path -> the type last seen, and a set of
the project's collection names. Nothing scans the stored events; a worker remembers
what it has already recorded, so a steady stream of known shapes costs no writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

from . import stream

# The properties every stored event has, as queries and extractions show them.
ENVELOPE_TYPES = {
    "distinct_id": "string",
    "category": "string",
    "keen.timestamp": "datetime",
    "keen.created_at": "datetime",
    "keen.id": "string",
}
REMEMBERED_MAX = 100_000  # (project, collection, path, type) entries a worker keeps
_recorded: set[tuple[str, str, str, str]] = set()


def keen_type(value: object) -> str:
    """Keen's name for the JSON type of ``value`` (an object is not a leaf)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "num"
    if isinstance(value, list):
        return "list"
    return "string"


def leaf_types(properties: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """The dotted path of every leaf of ``properties`` (an empty object is a leaf of
    no type and is left out), with its Keen type."""
    found: dict[str, str] = {}
    for key, value in properties.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            found.update(leaf_types(value, f"{path}."))
        else:
            found[path] = keen_type(value)
    return found


def _collection_key(project_id: str, name: str) -> str:
    return f"schema:{project_id}:collection:{name}"


def _names_key(project_id: str) -> str:
    return f"schema:{project_id}:collections"


def record_types(records: Iterable[dict[str, Any]]) -> int:
    """Record the property types of forwarded ``records`` (envelope records); returns
    how many (collection, path, type) entries were new to this worker."""
    new: dict[tuple[str, str], dict[str, str]] = {}
    for record in records:
        project_id, name = record.get("project_id"), record.get("name")
        properties = record.get("properties")
        if not isinstance(project_id, str) or not isinstance(name, str):
            continue
        types = leaf_types(properties) if isinstance(properties, dict) else {}
        for path, kind in types.items():
            entry = (project_id, name, path, kind)
            if entry not in _recorded:
                new.setdefault((project_id, name), {})[path] = kind
    if not new:
        return 0
    pipe = stream.client().pipeline(transaction=False)
    for (project_id, name), types in new.items():
        pipe.hset(_collection_key(project_id, name), mapping=dict[Any, Any](types))
        pipe.sadd(_names_key(project_id), name)
    pipe.execute()
    if len(_recorded) > REMEMBERED_MAX:
        _recorded.clear()
    count = 0
    for (project_id, name), types in new.items():
        for path, kind in types.items():
            _recorded.add((project_id, name, path, kind))
            count += 1
    return count


def record_encoded(values: Iterable[bytes]) -> int:
    """``record_types`` of encoded envelope records (what the stream holds); values that
    are not JSON objects are skipped (they go to the DLQ elsewhere)."""
    records = []
    for value in values:
        try:
            record = json.loads(value)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return record_types(records)


def collection_names(project_id: str) -> list[str]:
    """The project's collection names, sorted."""
    names = cast(set[bytes], stream.client().smembers(_names_key(project_id)))
    return sorted(name.decode() for name in names)


def collection_types(project_id: str, name: str) -> dict[str, str] | None:
    """Path -> Keen type of every property of the collection (envelope ones included),
    sorted by path; None for a collection never forwarded."""
    stored = cast(dict[bytes, bytes], stream.client().hgetall(_collection_key(project_id, name)))
    if not stored:
        return None
    types = {key.decode(): kind.decode() for key, kind in stored.items()}
    return dict(sorted({**types, **ENVELOPE_TYPES}.items()))
