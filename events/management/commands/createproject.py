"""``manage.py createproject NAME [--json]``: a project with a write, read and master key."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.services import create_project_with_keys


class Command(BaseCommand):
    help = "Create a project with one write, one read and one master key (shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Human-readable project name")
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print the result as JSON"
        )

    def handle(self, *args: Any, name: str, as_json: bool = False, **options: Any) -> None:
        try:
            project, keys = create_project_with_keys(name=name)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        result = {
            "project_id": project.id,
            "write_key": keys["write"],
            "read_key": keys["read"],
            "master_key": keys["master"],
        }
        if as_json:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(f"Created project {project.name!r}")
        for field, value in result.items():
            self.stdout.write(f"  {field:11} {value}")
        self.stdout.write("Store the keys now: they are not shown again.")
