"""The strict-mode schema transformation (pure functions)."""

from __future__ import annotations

import pytest

from memplane.models import DecisionList
from memplane_openai.schema import NotStrictable, strict_schema, strip_introduced_nulls
from memplane_openai.testing.server import strict_problems


def test_decision_schema_becomes_strict_valid():
    original = DecisionList.model_json_schema()
    strict = strict_schema(original)
    assert strict_problems(strict) == []
    assert strict_problems(original) != []  # the original would be refused
    assert "default" not in str(strict["$defs"]["Decision"]["properties"]["id"])
    assert original == DecisionList.model_json_schema()  # input not mutated


def test_ref_with_siblings_is_inlined():
    schema = {"type": "object", "properties": {"p": {"$ref": "#/$defs/P", "description": "d"}},
              "required": ["p"],
              "$defs": {"P": {"type": "object", "properties": {"x": {"type": "string"}}}}}
    strict = strict_schema(schema)
    assert strict["properties"]["p"]["description"] == "d"
    assert "$ref" not in strict["properties"]["p"]
    assert strict_problems(strict) == []


def test_unstrictable_schemas_are_reported():
    with pytest.raises(NotStrictable):
        strict_schema({"type": "array", "items": {"type": "string"}})
    with pytest.raises(NotStrictable):
        strict_schema({"type": "object", "additionalProperties": {"type": "string"}})


def test_only_nulls_the_transformation_introduced_are_stripped():
    schema = {"type": "object", "required": ["items"], "properties": {
        "items": {"type": "array", "items": {"$ref": "#/$defs/I"}},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    }, "$defs": {"I": {"type": "object", "required": ["a"],
                       "properties": {"a": {"type": "string"}, "n": {"type": "integer"}}}}}
    value = {"items": [{"a": "x", "n": None}, {"a": "y", "n": 2}], "note": None}
    assert strip_introduced_nulls(value, schema) == {
        "items": [{"a": "x"}, {"a": "y", "n": 2}], "note": None}
