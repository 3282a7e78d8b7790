"""``manage.py index_user_events``: index the events stored before ``user_events``
existed, so a user's deletion finds them too (``insights.user_index``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.models import Project
from insights.lease import AggregationBusy
from insights.user_index import backfill


class Command(BaseCommand):
    help = (
        "Write the user_events index rows of every stored event with a distinct id, for "
        "one project or all of them; safe to repeat."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", help="the project id (default: every project)")

    def handle(self, *args: Any, **options: Any) -> None:
        projects = [options["project"]] if options["project"] else None
        if projects is None:
            projects = [str(pk) for pk in Project.objects.values_list("pk", flat=True)]
        elif not Project.objects.filter(pk=projects[0]).exists():
            raise CommandError(f"--project: no project {projects[0]!r}")
        for project_id in projects:
            try:
                count = backfill(project_id, progress=lambda line: self.stdout.write(f"  {line}"))
            except AggregationBusy as exc:
                raise CommandError(f"the aggregation lease stayed busy: {exc}") from exc
            self.stdout.write(f"{project_id}: {count} events indexed")
