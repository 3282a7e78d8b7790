"""``manage.py aggregate``: run the aggregation now, showing its progress."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from insights.aggregation import run_aggregation
from insights.lease import AggregationBusy, LeaseLost
from insights.models import JobRun


def _instant(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--replay-from: {exc}") from exc
    if parsed.tzinfo is None:
        raise CommandError("--replay-from needs a time zone, e.g. 2026-11-26T00:00:00Z")
    return parsed


class Command(BaseCommand):
    help = (
        "Aggregate the events that arrived since the last run, now. With --replay-from "
        "or --replay-from-offset, reprocess from that point (safe: events are "
        "deduplicated and rollups recomputed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--wait",
            type=float,
            default=60,
            metavar="SECONDS",
            help="how long to wait for a run in progress to finish (default 60)",
        )
        replay = parser.add_mutually_exclusive_group()
        replay.add_argument(
            "--replay-from", metavar="TIME", help="ISO-8601 time with a zone: reread from it"
        )
        replay.add_argument(
            "--replay-from-offset",
            metavar="N",
            type=int,
            help="reread every partition from offset N (0 = everything still in Kafka)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()

        def progress(message: str) -> None:
            self.stdout.write(f"[{time.monotonic() - started:7.1f}s] {message}")

        replay_time = _instant(options["replay_from"]) if options["replay_from"] else None
        replay_offset = options["replay_from_offset"]
        if replay_offset is not None and replay_offset < 0:
            raise CommandError("--replay-from-offset must be 0 or more")
        replaying = replay_time is not None or replay_offset is not None
        try:
            run = run_aggregation(
                trigger=JobRun.Trigger.REPLAY if replaying else JobRun.Trigger.MANUAL,
                replay_from_time=replay_time,
                replay_from_offset=replay_offset,
                wait_seconds=options["wait"],
                progress=progress,
            )
        except AggregationBusy as exc:
            raise CommandError(f"{exc}; try again when it has finished") from exc
        except LeaseLost as exc:
            raise CommandError(f"run stopped, nothing committed: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"job run {run.pk} succeeded in {run.seconds:.1f}s"))
