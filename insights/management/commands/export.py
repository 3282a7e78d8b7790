"""``manage.py export``: a project's raw events as Parquet or JSON Lines files."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.models import Project
from insights.exports import as_dict, request_export, run_export
from insights.management.commands.delete_user import _instant
from insights.models import ExportJob


class Command(BaseCommand):
    help = (
        "Export a project's raw events (optionally one event name, in [--start, --end)) as "
        "Parquet or JSON Lines files, written by Spark in this process, chunk by chunk; "
        "--resume ID finishes an interrupted export."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", help="the project id")
        parser.add_argument("--format", choices=ExportJob.Format.values, default="parquet")
        parser.add_argument("--event", default="", help="only events of this name")
        parser.add_argument("--start", type=_instant, help="only events from (ISO 8601)")
        parser.add_argument("--end", type=_instant, help="only events before (ISO 8601)")
        parser.add_argument(
            "--destination", help="a directory or a Hadoop URL (default EXPORTS_DIR/<id>)"
        )
        parser.add_argument("--resume", metavar="ID", help="finish this export")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["resume"]:
            job = ExportJob.objects.filter(pk=options["resume"]).first()
            if job is None:
                raise CommandError(f"--resume: no export {options['resume']!r}")
        else:
            project = Project.objects.filter(pk=options["project"]).first()
            if project is None:
                raise CommandError(f"--project: no project {options['project']!r}")
            job = request_export(
                project=project,
                file_format=options["format"],
                name=options["event"],
                start=options["start"],
                end=options["end"],
                destination=options["destination"],
                requested_by=f"manage.py export ({getpass.getuser()})",
                queue=False,
            )
        self.stdout.write(f"export {job.pk} to {job.destination}")
        self.stdout.write(str(as_dict(run_export(job.pk))))
