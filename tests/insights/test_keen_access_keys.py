"""Keen's access keys through the unmodified ``keen`` client against a live server: every
method, the permissions a key is limited to, and ``options.queries.filters`` applied to
its queries (compared with an independent count over the generated events)."""

from __future__ import annotations

import datetime as dt

import pytest
from keen.exceptions import KeenApiError

from tests.events.conftest import private_queue  # noqa: F401  (fixture)
from tests.insights.test_keen_extraction import (  # noqa: F401  (dataset: a fixture)
    DAY0,
    NAME,
    client_for,
    dataset,
    frame,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "cassandra"], transaction=True),
]

WHOLE = frame(DAY0, DAY0 + dt.timedelta(days=14))


def country(code: str) -> dict:
    return {
        "queries": {
            "filters": [{"property_name": "user.country", "operator": "eq", "property_value": code}]
        }
    }


def of_country(events: list[dict], code: str) -> list[dict]:
    return [e for e in events if e["properties"]["user"]["country"] == code]


def test_every_access_key_method(dataset, live_server, private_queue) -> None:  # noqa: F811
    keys, events = dataset
    master = client_for(keys, live_server.url)
    created = master.create_access_key(
        "customer fr", permitted=["queries", "schema"], options=country("fr")
    )
    plaintext = created["key"]
    assert plaintext.startswith("ak_")
    assert (created["name"], created["is_active"], created["permitted"]) == (
        "customer fr",
        True,
        ["queries", "schema"],
    )
    assert created["options"] == country("fr")

    scoped = client_for({**keys, "read_key": plaintext, "write_key": plaintext}, live_server.url)
    assert scoped.count(NAME, timeframe=WHOLE) == len(of_country(events, "fr"))
    pro = [{"property_name": "plan", "operator": "eq", "property_value": "pro"}]
    assert scoped.count(NAME, timeframe=WHOLE, filters=pro) == len(
        [e for e in of_country(events, "fr") if e["properties"]["plan"] == "pro"]
    )
    extracted = scoped.extraction(NAME, timeframe=WHOLE)
    assert sorted(e["keen"]["id"] for e in extracted) == sorted(
        e["event_id"] for e in of_country(events, "fr")
    )
    steps = [{"event_collection": NAME, "actor_property": "distinct_id", "timeframe": WHOLE}]
    assert scoped.funnel(steps) == [
        len({e["distinct_id"] for e in of_country(events, "fr") if e["distinct_id"]})
    ]
    with pytest.raises(KeenApiError) as no_writes:
        scoped.add_event(NAME, {"plan": "pro"})
    assert no_writes.value.api_error["error_code"] == "InvalidApiKeyError"

    listed = master.list_access_keys()["keys"]
    assert [(k["key"], k["key_prefix"], k["name"]) for k in listed] == [
        (None, plaintext[:10], "customer fr")
    ]
    assert master.get_access_key(plaintext) == {**created, "key": None}
    assert master.get_access_key(plaintext[:10])["name"] == "customer fr"

    assert master.update_access_key_name(plaintext, "customer FR")["name"] == "customer FR"
    assert master.add_access_key_permissions(plaintext, ["writes"])["permitted"] == [
        "writes",
        "queries",
        "schema",
    ]
    scoped.add_event(NAME, {"plan": "pro"})  # now permitted
    assert master.remove_access_key_permissions(plaintext, ["writes", "schema"])["permitted"] == [
        "queries"
    ]
    assert master.update_access_key_permissions(plaintext, ["queries", "saved_queries"])[
        "permitted"
    ] == [
        "queries",
        "saved_queries",
    ]
    assert master.update_access_key_options(plaintext, country("de"))["options"] == country("de")
    assert scoped.count(NAME, timeframe=WHOLE) == len(of_country(events, "de"))
    full = master.update_access_key_full(
        plaintext, name="all", is_active=True, permitted=["queries"], options={}
    )
    assert (full["name"], full["permitted"], full["options"]) == ("all", ["queries"], {})
    assert scoped.count(NAME, timeframe=WHOLE) == len(events)

    assert master.revoke_access_key(plaintext)["is_active"] is False
    with pytest.raises(KeenApiError) as revoked:
        scoped.count(NAME, timeframe=WHOLE)
    assert revoked.value.api_error["error_code"] == "InvalidApiKeyError"
    assert master.unrevoke_access_key(plaintext)["is_active"] is True
    assert scoped.count(NAME, timeframe=WHOLE) == len(events)

    assert master.delete_access_key(plaintext) is True
    with pytest.raises(KeenApiError) as deleted:
        master.get_access_key(plaintext)
    assert deleted.value.api_error["error_code"] == "ResourceNotFoundError"
    assert master.list_access_keys() == {"keys": []}


def test_access_key_errors_are_keen_shaped(dataset, live_server) -> None:  # noqa: F811
    keys, _ = dataset
    master = client_for(keys, live_server.url)
    with pytest.raises(KeenApiError) as bad:
        master.create_access_key("k", permitted=["everything"])
    assert bad.value.api_error["error_code"] == "BadRequestError"
    assert bad.value.api_error["message"].startswith("permitted: must be a list drawn from writes")
    with pytest.raises(KeenApiError) as bad_filter:
        master.create_access_key(
            "k", permitted=["queries"], options={"queries": {"filters": [{"operator": "eq"}]}}
        )
    assert bad_filter.value.api_error["message"].startswith("options.queries.filters[0]")
    reader = client_for({**keys, "master_key": keys["read_key"]}, live_server.url)
    with pytest.raises(KeenApiError) as wrong_key:
        reader.create_access_key("k", permitted=["queries"])
    assert wrong_key.value.api_error["error_code"] == "InvalidApiKeyError"
    assert master.list_access_keys() == {"keys": []}
