"""Checks shared by every front door: error collection, size, field types, property trees.

Field paths are dotted (``properties.user.name``), list items indexed
(``properties.items[2]``); ``"event"`` names the event as a whole.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from events.envelope import EventError, EventValidationError
from events.limits import Limits

EVENT = "event"
_SCALARS = (str, int, float, bool, type(None))


class Problems:
    """Collects every error of one event, then raises them together."""

    def __init__(self, index: int | None) -> None:
        self.index = index
        self.errors: list[EventError] = []
        self._size_errors = 0

    def add(self, field: str, message: str) -> None:
        self.errors.append(EventError(index=self.index, field=field, message=message))

    def add_size(self, field: str, message: str) -> None:
        """An error that alone makes the event "too large" (413, not 400)."""
        self.add(field, message)
        self._size_errors += 1

    def raise_if_any(self) -> None:
        """Raise EventValidationError with every error collected, if there is one."""
        if self.errors:
            too_large = self._size_errors == len(self.errors)
            raise EventValidationError(self.errors, too_large=too_large)


def event_object(raw: object, *, limits: Limits, problems: Problems) -> dict[str, Any]:
    """``raw`` if it is a dict, after recording a size error if it is too large.

    A non-dict raises EventValidationError at once (nothing else can be checked).
    """
    if not isinstance(raw, dict):
        problems.add(EVENT, "must be a JSON object")
        problems.raise_if_any()
    size = event_size(raw)
    if size > limits.max_event_bytes:
        problems.add_size(
            EVENT, f"event is {size} bytes, exceeding the limit of {limits.max_event_bytes} bytes"
        )
    return raw  # type: ignore[return-value]


def event_size(raw: object) -> int:
    """Bytes of ``raw`` as compact UTF-8 JSON (lone surrogates counted, not rejected)."""
    text = json.dumps(raw, separators=(",", ":"), ensure_ascii=False)
    return len(text.encode("utf-8", "surrogatepass"))


def optional_object(
    event: Mapping[str, Any], key: str, *, problems: Problems, field: str | None = None
) -> dict[str, Any]:
    """``event[key]`` if it is a dict; ``{}`` when absent or null; else an error and ``{}``."""
    value = event.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(field or key, "must be a JSON object")
        return {}
    return value


def optional_string(
    event: Mapping[str, Any],
    key: str,
    *,
    max_length: int,
    problems: Problems,
    field: str | None = None,
) -> str | None:
    """``event[key]`` if it is a non-empty string within ``max_length``; None when absent
    or null; otherwise an error and None."""
    value = event.get(key)
    if value is None:
        return None
    return checked_string(value, field=field or key, max_length=max_length, problems=problems)


def checked_string(value: object, *, field: str, max_length: int, problems: Problems) -> str | None:
    """``value`` if it is a non-empty string within ``max_length``, else an error and None."""
    if not isinstance(value, str):
        problems.add(field, "must be a string")
        return None
    if not value:
        problems.add(field, "must not be empty")
        return None
    if len(value) > max_length:
        problems.add(field, f"is {len(value)} characters long, exceeding the limit of {max_length}")
        return None
    return value


def check_tree(tree: dict[str, Any], *, path: str, limits: Limits, problems: Problems) -> None:
    """Bound a properties-like object: key names, nesting depth, key count, JSON values.

    ``tree`` itself is depth 1; each nested object or list adds one. Keys are counted
    at every depth. ``path`` prefixes error fields (``""`` for a Keen event's top level).
    Floats must be finite (NaN and Infinity are not JSON).
    """
    count = 0

    def join(parent: str, key: str) -> str:
        return f"{parent}.{key}" if parent else key

    def walk(node: object, node_path: str, depth: int) -> None:
        nonlocal count
        if isinstance(node, dict | list) and depth > limits.max_property_depth:
            problems.add(
                node_path,
                f"nesting depth {depth} exceeds the limit of {limits.max_property_depth}",
            )
            return
        if isinstance(node, dict):
            for key, child in node.items():
                count += 1
                if not isinstance(key, str):
                    problems.add(node_path or EVENT, "property names must be strings")
                    continue
                if not key:
                    problems.add(node_path or EVENT, "property names must not be empty")
                    continue
                if len(key) > limits.max_property_name_length:
                    problems.add(
                        join(node_path, key),
                        f"property name is {len(key)} characters long, exceeding the limit"
                        f" of {limits.max_property_name_length}",
                    )
                walk(child, join(node_path, key), depth + 1)
        elif isinstance(node, list):
            for position, child in enumerate(node):
                walk(child, f"{node_path}[{position}]", depth + 1)
        elif isinstance(node, float) and not math.isfinite(node):
            problems.add(node_path, "must be a finite number")
        elif not isinstance(node, _SCALARS):
            problems.add(node_path, "must be a JSON value")

    walk(tree, path, 1)
    if count > limits.max_properties:
        problems.add(
            path or EVENT,
            f"has {count} properties, exceeding the limit of {limits.max_properties}",
        )


def check_paths(tree: dict[str, Any], *, path: str, problems: Problems) -> None:
    """Reject two properties that spell the same dotted path.

    A key holding a dot is a dotted path, like nesting (``{"a.b": 1}`` is ``a.b``, as
    ``{"a": {"b": 1}}`` is): rollups, filters and group_by all address it so. Both
    at once (``{"a.b": 1, "a": {"b": 2}}``) would give one path two values, so the
    event is refused with the path named. ``path`` prefixes error fields.
    """
    seen: set[str] = set()

    def walk(node: dict, prefix: str) -> None:
        for key, child in node.items():
            if not isinstance(key, str):
                continue
            dotted = f"{prefix}{key}"
            if dotted in seen:
                field = f"{path}.{dotted}" if path else dotted
                problems.add(
                    field,
                    "is given twice, as a key holding a dot and as nested properties; "
                    "use one or the other",
                )
                continue
            seen.add(dotted)
            if isinstance(child, dict):
                walk(child, f"{dotted}.")

    walk(tree, "")
