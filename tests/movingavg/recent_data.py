"""A project with events of the last 20 days, aggregated: the dashboard's test data."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest

from insights.aggregation import run_aggregation
from tests.insights.test_aggregation import produce

NAMES = ("purchase", "signup", "page_view")
INVALID = (b"not json", b'{"no": "envelope"}')


@pytest.fixture
def recent_dataset(spark, topic_prefix, project_keys):
    """400 events of three names over the last 20 days (a quarter in the last day), plus
    two invalid records (the DLQ), aggregated; a daily SMA metric definition of
    ``purchase``. Returns (keys, events)."""
    from events.models import Project
    from movingavg.models import MetricDefinition

    rng = random.Random(17)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    events = []
    for n in range(400):
        age = rng.randint(60, 86_000) if n % 4 == 0 else rng.randint(60, 20 * 86_400)
        events.append(
            {
                "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "name": rng.choices(NAMES, weights=[5, 2, 9])[0],
                "category": rng.choice(["web", "mobile"]),
                "distinct_id": f"user-{rng.randint(1, 40)}",
                "timestamp": now - dt.timedelta(seconds=age),
                "properties": {"amount": rng.randint(1, 500)},
            }
        )
    produce(topic_prefix, events, project_keys["project_id"], extra=INVALID)
    result = run_aggregation()
    assert result.events_written == len(events)
    assert result.invalid == len(INVALID)
    MetricDefinition.objects.create(
        project=Project.objects.get(id=project_keys["project_id"]),
        name="daily purchases",
        event_collection="purchase",
        analysis="count",
        interval="daily",
        kind="sma",
        window=7,
    )
    return project_keys, events
