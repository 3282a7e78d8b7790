"""``manage.py createproject NAME --json`` prints a project and three working keys."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from events.keys import hash_key
from events.models import ApiKey, Project

pytestmark = pytest.mark.django_db


def test_createproject_json_prints_ids_and_keys() -> None:
    out = io.StringIO()
    call_command("createproject", "Acme web", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert set(result) == {"project_id", "write_key", "read_key", "master_key"}
    project = Project.objects.get(pk=result["project_id"])
    assert project.name == "Acme web"
    for kind in ("write", "read", "master"):
        plaintext = result[f"{kind}_key"]
        stored = ApiKey.objects.get(project=project, kind=kind)
        assert stored.key_hash == hash_key(plaintext)
        assert plaintext not in (stored.key_hash, stored.prefix)
        assert stored.is_active
    assert len({result["write_key"], result["read_key"], result["master_key"]}) == 3


def test_createproject_human_output_mentions_keys_once() -> None:
    out = io.StringIO()
    call_command("createproject", "Acme mobile", stdout=out)
    assert "write_key" in out.getvalue()
    assert "not shown again" in out.getvalue()


def test_blank_name_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="name: must not be blank"):
        call_command("createproject", "   ")
    assert Project.objects.count() == 0
