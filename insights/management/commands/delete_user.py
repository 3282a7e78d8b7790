"""``manage.py delete_user``: delete every event of some users, and correct the rollups."""

from __future__ import annotations

import datetime as dt
import getpass
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.models import Project
from insights.aggregation import run_aggregation
from insights.deletions import as_dict, request_user_deletion
from insights.models import Deletion, JobRun


def _instant(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{value!r}: {exc}") from exc
    if parsed.tzinfo is None:
        raise CommandError(f"{value!r} needs a time zone, e.g. 2026-11-26T00:00:00Z")
    return parsed


class Command(BaseCommand):
    help = (
        "Delete every event of DISTINCT_ID... in a project (optionally of one event name, "
        "in [--start, --end)), with every rollup corrected exactly. Recorded as a deletion "
        "(admin, GET /api/v1/deletions/ID); --now runs it at once instead of by the worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("distinct_ids", nargs="+", metavar="DISTINCT_ID")
        parser.add_argument("--project", required=True, help="the project id")
        parser.add_argument("--event", default="", help="only events of this name")
        parser.add_argument("--start", type=_instant, help="only events from (ISO 8601)")
        parser.add_argument("--end", type=_instant, help="only events before (ISO 8601)")
        parser.add_argument(
            "--now", action="store_true", help="run it in this process, waiting for a run"
        )
        parser.add_argument(
            "--suppress", action="store_true", help="also drop these users' later events"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(pk=options["project"]).first()
        if project is None:
            raise CommandError(f"--project: no project {options['project']!r}")
        users = options["distinct_ids"]
        if len(users) > settings.DELETION_MAX_USERS:
            raise CommandError(f"at most {settings.DELETION_MAX_USERS} distinct ids at once")
        if (options["start"] is None) != (options["end"] is None):
            raise CommandError("--start and --end go together")
        deletion = request_user_deletion(
            project=project,
            distinct_ids=users,
            name=options["event"],
            start=options["start"],
            end=options["end"],
            suppress=options["suppress"],
            requested_by=f"manage.py delete_user ({getpass.getuser()})",
        )
        self.stdout.write(f"deletion {deletion.pk} requested")
        if options["now"]:
            run_aggregation(
                trigger=JobRun.Trigger.MANUAL, wait_seconds=600, progress=self.stdout.write
            )
            deletion = Deletion.objects.get(pk=deletion.pk)
        self.stdout.write(str(as_dict(deletion)))
