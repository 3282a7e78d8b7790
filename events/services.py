"""Write-side operations on projects and keys."""

from __future__ import annotations

from django.db import transaction

from .keys import generate_key, hash_key
from .models import ApiKey, Project


@transaction.atomic
def create_project_with_keys(*, name: str) -> tuple[Project, dict[str, str]]:
    """Create a project with one key of each kind; return it and the plaintext keys.

    The plaintext keys are returned only here: the database keeps their hashes.
    """
    if not name.strip():
        raise ValueError("name: must not be blank")
    project = Project.objects.create(name=name.strip())
    plaintext: dict[str, str] = {}
    for kind in ApiKey.Kind.values:
        key = generate_key(kind)
        ApiKey.objects.create(project=project, kind=kind, prefix=key[:10], key_hash=hash_key(key))
        plaintext[kind] = key
    return project, plaintext
