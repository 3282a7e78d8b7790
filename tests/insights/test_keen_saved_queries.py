"""Keen's saved and cached queries through the unmodified ``keen`` client's
``saved_queries`` against a live server: every method, answers compared with an
independent computation over the generated events, the beat schedule of a cached query,
and Keen-shaped errors."""

from __future__ import annotations

import datetime as dt

import pytest
from django_celery_beat.models import PeriodicTask
from keen.exceptions import KeenApiError

from insights.aggregation import run_aggregation
from insights.models import SavedQuery
from insights.tasks import refresh_saved_query
from tests.insights.test_aggregation import produce
from tests.insights.test_keen_extraction import (  # noqa: F401  (dataset: a fixture)
    DAY0,
    NAME,
    client_for,
    dataset,
    expected_series,
    frame,
    uniques,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "cassandra"], transaction=True),
]

WEEKS = [DAY0 + dt.timedelta(days=7 * n) for n in range(3)]
WEEKLY = {
    "analysis_type": "count",
    "event_collection": NAME,
    "timeframe": frame(WEEKS[0], WEEKS[-1]),
    "interval": "weekly",
}


def test_every_saved_query_method(dataset, live_server) -> None:  # noqa: F811
    keys, events = dataset
    client = client_for(keys, live_server.url)
    saved = client.saved_queries

    created = saved.create("weekly-signups", {"query": WEEKLY, "metadata": {"display_name": "W"}})
    assert created["query_name"] == "weekly-signups"
    assert created["query"] == WEEKLY
    assert (created["refresh_rate"], created["metadata"]) == (0, {"display_name": "W"})
    assert saved.all() == [created]
    assert saved.get("weekly-signups") == created
    assert saved.results("weekly-signups")["result"] == expected_series(events, WEEKS, len)

    # update: only the attributes given change (the client reads, merges and PUTs)
    saved.update(
        "weekly-signups",
        {"query": {"analysis_type": "count_unique", "target_property": "distinct_id"}},
    )
    changed = saved.get("weekly-signups")
    assert changed["query"] == {
        **WEEKLY,
        "analysis_type": "count_unique",
        "target_property": "distinct_id",
    }
    assert changed["metadata"] == {"display_name": "W"}
    assert saved.results("weekly-signups")["result"] == expected_series(events, WEEKS, uniques)

    # update_full: the whole definition; what is left out is removed
    saved.update_full("weekly-signups", {"query": WEEKLY})
    assert saved.get("weekly-signups")["metadata"] == {}

    assert saved.delete("weekly-signups") is True
    assert saved.all() == []
    with pytest.raises(KeenApiError) as gone:
        saved.get("weekly-signups")
    assert gone.value.api_error["error_code"] == "ResourceNotFoundError"


def test_a_cached_query_is_recomputed_on_its_beat_schedule_and_served_with_its_age(
    dataset,  # noqa: F811
    live_server,
    topic_prefix,
) -> None:
    keys, events = dataset
    client = client_for(keys, live_server.url)
    saved = client.saved_queries
    saved.create("cached-weekly", {"query": WEEKLY, "refresh_rate": 14400})
    record = SavedQuery.objects.get(project_id=keys["project_id"], name="cached-weekly")
    task = PeriodicTask.objects.get(pk=record.schedule_id)
    assert (task.task, task.interval.every, task.interval.period) == (
        "insights.refresh_saved_query",
        14400,
        "seconds",
    )
    assert task.args == f"[{record.pk}]"
    assert task.enabled

    first = saved.results("cached-weekly")
    assert first["result"] == expected_series(events, WEEKS, len)
    assert first["result_age"] >= 0
    assert first["run_information"]["last_run_date"] == first["result_computed_at"]

    # new events land: the cached answer stays until the schedule recomputes it
    more = [{**event, "event_id": f"{event['event_id']}-2"} for event in events[:30]]
    produce(topic_prefix, more, keys["project_id"])
    assert run_aggregation().events_written == 30
    stale = saved.results("cached-weekly")
    assert stale["result"] == first["result"]
    assert stale["result_age"] >= first["result_age"]
    refresh_saved_query.apply(args=(record.pk,)).get()  # what beat runs
    fresh = saved.results("cached-weekly")
    assert fresh["result"] == expected_series(events + more, WEEKS, len)
    assert fresh["result"] != first["result"]

    # refresh_rate 0 turns the schedule off; deleting the query removes it too
    saved.update("cached-weekly", {"refresh_rate": 0})
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()
    saved.update("cached-weekly", {"refresh_rate": 86400})
    record.refresh_from_db()
    assert PeriodicTask.objects.filter(pk=record.schedule_id).exists()
    saved.delete("cached-weekly")
    assert not PeriodicTask.objects.filter(name__startswith="cached query").exists()


def test_saved_query_errors_are_keen_shaped(dataset, live_server) -> None:  # noqa: F811
    keys, _ = dataset
    client = client_for(keys, live_server.url)
    cases = [
        ({"query": {**WEEKLY, "analysis_type": "nope"}}, "query.analysis_type"),
        ({"query": {**WEEKLY, "interval": "fortnightly"}}, "query.interval"),
        ({"query": WEEKLY, "refresh_rate": 60}, "refresh_rate: must be 0, or from 14400"),
        ({"query": "count"}, "query: is required"),
    ]
    for body, message in cases:
        with pytest.raises(KeenApiError) as refused:
            client.saved_queries.create("bad", body)
        assert (
            refused.value.api_error["error_code"] == "InvalidEventError"
            or refused.value.api_error["error_code"]
        )
        assert message in refused.value.api_error["message"], body
    assert client.saved_queries.all() == []
    with pytest.raises(KeenApiError) as unknown:
        client.saved_queries.results("never-saved")
    assert unknown.value.api_error["error_code"] == "ResourceNotFoundError"

    # the read key may read results but not manage saved queries
    reader = client_for({**keys, "master_key": keys["read_key"]}, live_server.url)
    with pytest.raises(KeenApiError) as wrong_key:
        reader.saved_queries.create("weekly", {"query": WEEKLY})
    assert wrong_key.value.api_error["error_code"] == "InvalidApiKeyError"
    assert "use the master key" in wrong_key.value.api_error["message"]
