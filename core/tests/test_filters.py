"""The filter tree: parsing the dict spelling and the reference semantics."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from memplane.errors import UnsupportedFilter, ValidationError
from memplane.filters import (
    And,
    Cmp,
    Not,
    Or,
    evaluate,
    operators_used,
    parse_filter,
    require_supported,
)
from memplane.models import MemoryRecord, Scope


def record(**metadata: object) -> MemoryRecord:
    return MemoryRecord(text="t", scope=Scope(user_id="u"), metadata=metadata,
                        attributed_to="user",
                        observed_at=datetime(2024, 5, 1, tzinfo=UTC))


def test_bare_values_mean_eq_and_several_keys_mean_and() -> None:
    tree = parse_filter({"topic": "food", "stars": {"gte": 3}})
    assert tree == And(all=[Cmp(op="eq", field="topic", value="food"),
                            Cmp(op="gte", field="stars", value=3)])


def test_logical_nodes_parse_recursively() -> None:
    tree = parse_filter({"OR": [{"a": 1}, {"NOT": {"b": {"in": [1, 2]}}}]})
    assert isinstance(tree, Or)
    assert isinstance(tree.any[1], Not)
    assert sorted(operators_used(tree)) == ["NOT", "OR", "eq", "in"]


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"a": {"like": "x"}}, "unknown filter operator 'like'"),
        ({"a": {"in": "x"}}, "takes a list"),
        ({"a": {"exists": "yes"}}, "true or false"),
        ({"AND": []}, "non-empty list"),
        ({"a": {}}, "no operator"),
        (["a"], "must be a mapping"),
    ],
)
def test_bad_specs_are_typed_errors_that_say_what_to_do(spec: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_filter(spec)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "spec, expected",
    [
        ({"topic": "food"}, True),
        ({"topic": {"ne": "food"}}, False),
        ({"missing": {"ne": "x"}}, True),  # ne is true on a missing field
        ({"missing": {"nin": ["x"]}}, True),
        ({"missing": {"gt": 1}}, False),
        ({"stars": {"in": [3, 4]}}, True),
        ({"stars": {"nin": [3, 4]}}, False),
        ({"stars": {"gt": 3}}, False),
        ({"stars": {"gte": 3}}, True),
        ({"stars": {"lt": 3.5}}, True),
        ({"stars": {"lte": 2}}, False),
        ({"tags": {"contains": "b"}}, True),
        ({"tags": {"contains": "z"}}, False),
        ({"topic": {"contains": "fo"}}, False),  # contains is list membership only
        ({"tags": {"exists": True}}, True),
        ({"nothing": {"exists": True}}, False),
        ({"nothing": {"exists": False}}, True),
        ({"flag": True}, True),
        ({"flag": 1}, False),  # booleans never equal numbers
        ({"stars": "3"}, False),  # nor strings numbers
        ({"attributed_to": "user"}, True),  # a record field
        ({"metadata.attributed_to": "user"}, False),  # explicitly metadata
        ({"observed_at": {"gte": "2024-01-01T00:00:00+00:00"}}, True),
        ({"observed_at": {"lt": datetime(2024, 1, 1, tzinfo=UTC)}}, False),
        ({"NOT": {"topic": "food"}}, False),
        ({"OR": [{"topic": "x"}, {"stars": 3}]}, True),
        ({"AND": [{"topic": "food"}, {"stars": 4}]}, False),
    ],
)
def test_reference_semantics(spec: dict[str, object], expected: bool) -> None:
    rec = record(topic="food", stars=3, tags=["a", "b"], flag=True)
    assert evaluate(parse_filter(spec), rec) is expected


def test_require_supported_names_the_missing_operator() -> None:
    tree = parse_filter({"OR": [{"a": 1}, {"b": {"contains": 2}}]})
    with pytest.raises(UnsupportedFilter, match="'contains'"):
        require_supported(tree, frozenset({"eq", "OR"}), "toy")
    require_supported(tree, frozenset({"eq", "OR", "contains"}), "toy")
