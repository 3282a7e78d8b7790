"""Ad-hoc evaluation (pure): Keen's filter operators, analyses, group_by, order_by."""

from __future__ import annotations

import pytest

from insights.errors import QueryError
from insights.queries import parse_filters
from insights.raw_answers import (
    MISSING,
    analyse,
    grouped,
    lookup,
    matches,
    order_and_limit,
    percentile_of,
)

EVENTS: list[dict[str, object]] = [
    {"plan": "pro", "amount": 10, "user": {"id": "a"}, "tags": ["x", "y"], "note": "big sale"},
    {"plan": "free", "amount": 2.5, "user": {"id": "b"}, "tags": ["y"]},
    {"plan": "pro", "amount": -1, "user": {"id": "a"}, "note": None},
    {"plan": "pro", "amount": "7", "user": {}},
]


def test_lookup_follows_dotted_paths() -> None:
    assert lookup(EVENTS[0], "user.id") == "a"
    assert lookup(EVENTS[3], "user.id") is MISSING
    assert lookup(EVENTS[0], "plan.x") is MISSING


@pytest.mark.parametrize(
    ("operator", "name", "value", "expected"),
    [
        ("eq", "plan", "pro", [0, 2, 3]),
        ("ne", "plan", "pro", [1]),
        ("lt", "amount", 3, [1, 2]),  # the string "7" is not compared with numbers
        ("lte", "amount", 2.5, [1, 2]),
        ("gt", "amount", 2.5, [0]),
        ("gte", "amount", 2.5, [0, 1]),
        ("exists", "note", True, [0]),  # null counts as absent
        ("exists", "note", False, [1, 2, 3]),
        ("in", "user.id", ["b", "c"], [1]),
        ("contains", "note", "sale", [0]),
        ("contains", "tags", "y", [0, 1]),
        ("not_contains", "tags", "x", [1]),
    ],
)
def test_every_filter_operator(operator, name, value, expected) -> None:
    filters = parse_filters(
        [{"property_name": name, "operator": operator, "property_value": value}]
    )
    assert [i for i, e in enumerate(EVENTS) if matches(e, filters)] == expected


def test_bad_filters_name_the_field() -> None:
    with pytest.raises(QueryError) as caught:
        parse_filters('[{"property_name": "a", "operator": "like"}]')
    assert caught.value.field == "filters[0].operator"
    with pytest.raises(QueryError) as caught:
        parse_filters([{"property_name": "a", "operator": "in", "property_value": 3}])
    assert caught.value.field == "filters[0].property_value"


def test_analyses() -> None:
    assert analyse("count", EVENTS, None, None) == 4
    assert analyse("count_unique", EVENTS, "user.id", None) == 2
    assert analyse("select_unique", EVENTS, "plan", None) == ["free", "pro"]
    assert analyse("sum", EVENTS, "amount", None) == 11.5  # "7" is a string, not a number
    assert analyse("minimum", EVENTS, "amount", None) == -1
    assert analyse("maximum", EVENTS, "amount", None) == 10
    assert analyse("average", EVENTS, "amount", None) == pytest.approx(11.5 / 3)
    assert analyse("median", EVENTS, "amount", None) == 2.5
    assert analyse("average", EVENTS, "missing", None) is None


def test_percentile_interpolates_like_numpy() -> None:
    import numpy as np

    values = [3, 1, 4, 1, 5, 9, 2, 6]
    from decimal import Decimal

    for percent in (0, 10, 25, 50, 90, 99.5, 100):
        ours = percentile_of([Decimal(v) for v in values], percent)
        assert ours == pytest.approx(float(np.percentile(values, percent)), rel=1e-12)
    assert percentile_of([], 50) is None


def test_group_by_order_by_and_limit() -> None:
    rows = grouped("count", EVENTS, target=None, percentile=None, group_by=["plan"])
    assert rows == [{"plan": "free", "result": 1}, {"plan": "pro", "result": 3}]
    both = grouped("sum", EVENTS, target="amount", percentile=None, group_by=["plan", "user.id"])
    assert {(r["plan"], r["user.id"]): r["result"] for r in both} == {
        ("pro", "a"): 9,
        ("free", "b"): 2.5,
        ("pro", None): 0,
    }
    ordered = order_and_limit(rows, {"property_name": "result", "direction": "DESC"}, 1)
    assert ordered == [{"plan": "pro", "result": 3}]
    with pytest.raises(QueryError) as caught:
        order_and_limit(rows, None, 1)
    assert caught.value.field == "limit"


def test_a_key_holding_a_dot_is_the_dotted_path() -> None:
    """Issue 12: the rollups sum {"a.b": 5} as a.b, so filters must see it there too
    (old code: MISSING). Stored events with both forms resolve to the nested one."""
    assert lookup({"a.b": 5}, "a.b") == 5
    assert lookup({"a": {"b.c": 6}}, "a.b.c") == 6
    assert lookup({"a.b": {"c": 7}}, "a.b.c") == 7
    assert lookup({"a": {"c": 1}, "a.b": 8}, "a.b") == 8
    assert lookup({"a": {"b": 2}, "a.b": 8}, "a.b") == 2
    assert lookup({"keen.timestamp": "x", "keen": {"timestamp": "t"}}, "keen.timestamp") == "t"
    assert analyse("sum", [{"a.b": 5}, {"a": {"b": 7}}], "a.b", None) == 12


def test_filters_are_type_strict() -> None:
    """Issue 12: Keen compares types strictly: eq true does not match 1 (old code: it
    did, since True == 1 in Python), 1 matches 1.0, and exists takes only a boolean."""
    events: list[dict[str, object]] = [
        {"f": True},
        {"f": 1},
        {"f": 1.0},
        {"f": "1"},
        {"f": [1, True]},
        {"f": False},
    ]

    def chosen(operator: str, value) -> list[int]:
        filters = parse_filters(
            [{"property_name": "f", "operator": operator, "property_value": value}]
        )
        return [i for i, e in enumerate(events) if matches(e, filters)]

    assert chosen("eq", True) == [0]
    assert chosen("eq", 1) == [1, 2]
    assert chosen("eq", [1, True]) == [4]
    assert chosen("eq", [True, True]) == []
    assert chosen("ne", True) == [1, 2, 3, 4, 5]
    assert chosen("in", [True, "1"]) == [0, 3]
    assert chosen("in", [0]) == []  # False is not 0
    assert chosen("contains", True) == [4]
    assert chosen("contains", 1) == [4]
    for value in ("yes", 1, None):
        with pytest.raises(QueryError) as caught:
            parse_filters([{"property_name": "f", "operator": "exists", "property_value": value}])
        assert caught.value.field == "filters[0].property_value"
