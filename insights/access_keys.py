"""Keen's access keys: named keys of a project, each allowed only what ``permitted``
lists, with Keen's ``options``; managed with the master key, stored hashed like every
key (the plaintext is shown once, when created).

``options.queries.filters`` (Keen's filters) are added to every query the key makes
(each step of a funnel too), so a key can see only one customer's data. A key is found
by its plaintext or by its ``key_prefix`` (the first 10 characters, shown in lists).
"""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.utils import timezone

from events.auth import forget_cached_key
from events.json_parsing import decode_json
from events.keys import generate_key, hash_key
from events.models import ApiKey

from .errors import QueryError
from .queries import Params, parse_filters
from .timeframes import iso

PERMISSIONS = ("writes", "queries", "saved_queries", "cached_queries", "datasets", "schema")
MAX_NAME_LENGTH = 255


class AccessKeyNotFound(LookupError):
    """No access key of the project matches (answered 404)."""


def checked(body: object) -> tuple[str, bool, list[str], dict[str, Any]]:
    """(name, is_active, permitted, options) of a create or full-update body; QueryError
    names the field that is wrong."""
    if not isinstance(body, dict):
        raise QueryError("body", "must be an object with name, is_active, permitted, options")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise QueryError("name", f"is required: 1 to {MAX_NAME_LENGTH} characters")
    active = body.get("is_active", True)
    if not isinstance(active, bool):
        raise QueryError("is_active", "must be true or false")
    permitted = body.get("permitted") or []
    if not isinstance(permitted, list) or any(p not in PERMISSIONS for p in permitted):
        raise QueryError("permitted", f"must be a list drawn from {', '.join(PERMISSIONS)}")
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise QueryError("options", "must be an object")
    queries = options.get("queries") or {}
    if not isinstance(queries, dict):
        raise QueryError("options.queries", "must be an object")
    try:
        parse_filters(queries.get("filters"))
    except QueryError as error:
        raise QueryError(f"options.queries.{error.field}", error.message) from None
    return name.strip(), active, sorted(set(permitted), key=PERMISSIONS.index), options


def create(project_id: str, body: object) -> tuple[ApiKey, str]:
    """A new access key and its plaintext (shown only now)."""
    name, active, permitted, options = checked(body)
    plaintext = generate_key(ApiKey.Kind.ACCESS)
    key = ApiKey.objects.create(
        project_id=project_id,
        kind=ApiKey.Kind.ACCESS,
        prefix=plaintext[:10],
        key_hash=hash_key(plaintext),
        name=name,
        permitted=permitted,
        options=options,
        revoked_at=None if active else timezone.now(),
    )
    return key, plaintext


def find(project_id: str, ref: str) -> ApiKey:
    """The project's access key whose plaintext or ``key_prefix`` is ``ref``."""
    keys = ApiKey.objects.filter(project_id=project_id, kind=ApiKey.Kind.ACCESS)
    found = keys.filter(key_hash=hash_key(ref.strip())).first()
    if found is None and len(ref) == 10:
        matches = list(keys.filter(prefix=ref)[:2])
        found = matches[0] if len(matches) == 1 else None
    if found is None:
        raise AccessKeyNotFound("no access key of this project matches")
    return found


@transaction.atomic
def update(project_id: str, ref: str, body: object) -> ApiKey:
    """Replace the key's name, is_active, permitted and options (Keen's full update)."""
    name, active, permitted, options = checked(body)
    key = find(project_id, ref)
    key.name, key.permitted, key.options = name, permitted, options
    if active:
        key.revoked_at = None
    elif key.revoked_at is None:
        key.revoked_at = timezone.now()
    key.save(update_fields=["name", "permitted", "options", "revoked_at"])
    forget_cached_key(key.key_hash)
    return key


def set_active(project_id: str, ref: str, *, active: bool) -> ApiKey:
    """Revoke (``active=False``) or unrevoke the key."""
    key = find(project_id, ref)
    key.revoked_at = None if active else (key.revoked_at or timezone.now())
    key.save(update_fields=["revoked_at"])
    forget_cached_key(key.key_hash)
    return key


def delete(project_id: str, ref: str) -> None:
    key = find(project_id, ref)
    forget_cached_key(key.key_hash)
    key.delete()


def as_keen(key: ApiKey, plaintext: str | None = None) -> dict[str, Any]:
    """An access key in Keen's shape; ``key`` is the plaintext only when just created."""
    return {
        "key": plaintext,
        "key_prefix": key.prefix,
        "project_id": key.project_id,
        "name": key.name,
        "is_active": key.revoked_at is None,
        "permitted": key.permitted,
        "options": key.options,
        "created_date": iso(key.created_at),
    }


def forced_filters(key: ApiKey) -> list[dict]:
    """The filters every query of ``key`` gets: an access key's ``options.queries.filters``."""
    if key.kind != ApiKey.Kind.ACCESS:
        return []
    queries = key.options.get("queries") or {}
    return parse_filters(queries.get("filters"))


def scoped(analysis: str, params: Params, key: ApiKey) -> Params:
    """``params`` with ``key``'s forced filters added (to each step of a funnel)."""
    forced = forced_filters(key)
    if not forced:
        return params
    plain: dict[str, object] = {name: params.get(name) for name in params}
    if analysis == "funnel":
        steps = plain.get("steps")
        if isinstance(steps, str):
            try:
                steps = decode_json(steps)
            except ValueError:
                return plain  # the parser names the bad steps
        if isinstance(steps, list):
            plain["steps"] = [
                {**step, "filters": [*forced, *parse_filters(step.get("filters"))]}
                if isinstance(step, dict)
                else step
                for step in steps
            ]
        return plain
    plain["filters"] = json.dumps([*forced, *parse_filters(plain.get("filters"))])
    return plain
