"""Filter translation without a server: escaping, templates, refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from memplane.errors import UnsupportedFilter, ValidationError
from memplane.filters import parse_filter
from memplane_milvus.expressions import (
    FALSE,
    compile_filter,
    inline_params,
    metadata_index,
    quote,
)

HOSTILE = ['" or 1==1 or "', "\\", '\\"', "a'b", "line\nbreak\r\t", "{p1}", "caf\u00e9 \U0001f642", ""]


def _unquote(literal: str) -> str:
    """The reading Milvus' tokenizer gives a string literal (C-style escapes)."""
    assert literal[0] == literal[-1] == '"'
    out, i = [], 1
    escapes = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}
    while i < len(literal) - 1:
        ch = literal[i]
        if ch == "\\":
            out.append(escapes[literal[i + 1]])
            i += 2
            continue
        assert ch != '"', f"unescaped quote in {literal!r}"
        out.append(ch)
        i += 1
    return "".join(out)


@pytest.mark.parametrize("value", HOSTILE)
def test_quote_round_trips_hostile_strings(value: str) -> None:
    assert _unquote(quote(value)) == value


@pytest.mark.parametrize("value", HOSTILE)
def test_templates_keep_values_out_of_the_expression(value: str) -> None:
    expr, params = compile_filter(parse_filter({"k": value}), templates=True)
    assert value not in expr or value == ""
    assert list(params.values()) == [value]
    assert "{p0}" in expr


def test_metadata_keys_are_escaped_even_with_templates() -> None:
    expr, _ = compile_filter(parse_filter({'k"] or 1==1 or meta_idx["x': 1}), templates=True)
    assert 'meta_idx["k\\"] or 1==1 or meta_idx[\\"x"]' in expr


def test_inline_params_ignores_placeholders_inside_string_literals() -> None:
    expr, params = compile_filter(
        parse_filter({"{p1}": "{p1}", "b": "x"}), templates=True
    )
    inlined = inline_params(expr, params)
    assert inlined == compile_filter(parse_filter({"{p1}": "{p1}", "b": "x"}), templates=False)[0]
    assert inlined.count('"{p1}"') == 3  # the key twice, the value once


def test_typed_slots_keep_bools_and_numbers_apart() -> None:
    index = metadata_index({"flag": True, "n": 1, "s": "2024-01-01T00:00:00+00:00",
                            "tags": ["a", 1, False], "none": None, "nested": {"x": 1}})
    assert index["flag"] == {"p": True, "b": True}
    assert index["n"] == {"p": True, "n": 1}
    assert index["s"]["s"].startswith("2024") and "t" in index["s"]
    assert index["tags"] == {"p": True, "ls": ["a"], "ln": [1], "lb": [False]}
    assert "none" not in index and index["nested"] == {"p": True}


def test_bool_operand_uses_the_bool_slot_only() -> None:
    expr, _ = compile_filter(parse_filter({"k": True}), templates=False)
    assert expr == '(exists meta_idx["k"]["b"] and meta_idx["k"]["b"] == true)'


@pytest.mark.parametrize("spec", [
    {"k": {"eq": [1, 2]}},
    {"k": {"contains": {"a": 1}}},
    {"k": {"in": [[1]]}},
    {"k": {"gt": float("nan")}},
    {"created_at": {"gt": datetime(2024, 1, 1)}},  # naive
    {"attributed_to": {"gt": datetime(2024, 1, 1, tzinfo=UTC)}},
])
def test_inexpressible_filters_are_refused(spec: dict[str, object]) -> None:
    with pytest.raises(UnsupportedFilter):
        compile_filter(parse_filter(spec), templates=False)


def test_bad_datetime_string_on_a_record_field_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="ISO 8601"):
        compile_filter(parse_filter({"created_at": {"gt": "yesterday"}}), templates=False)


@pytest.mark.parametrize("spec", [
    {"created_at": "2024-01-01T00:00:00+00:00"},  # a datetime never equals a string
    {"k": {"in": []}},
    {"k": {"gt": True}},
    {"k": {"contains": None}},
])
def test_never_true_comparisons_compile_to_false(spec: dict[str, object]) -> None:
    expr, _ = compile_filter(parse_filter(spec), templates=False)
    assert expr == FALSE


@pytest.mark.parametrize("spec", [
    {"k": HOSTILE[0], "n": {"gte": 3}, "f": {"lt": 2.5}, "b": False},
    {"k": {"in": HOSTILE}},
    {"tags": {"contains": "{p1}"}, "created_at": {"gt": datetime(2024, 1, 1, tzinfo=UTC)}},
])
def test_template_parameters_are_accepted_by_pymilvus(spec: dict[str, object]) -> None:
    """What a server receives: pymilvus' own encoding of the parameters keeps every
    value exact and typed (strings as strings, numbers as numbers)."""
    from pymilvus.client.prepare import Prepare

    _, params = compile_filter(parse_filter(spec), templates=True)
    encoded = Prepare.prepare_expression_template(params)
    assert set(encoded) == set(params)
    for name, value in params.items():
        kind = encoded[name].WhichOneof("val")
        decoded = getattr(encoded[name], kind)
        if isinstance(value, bool):
            assert kind == "bool_val" and decoded is value
        elif isinstance(value, int):
            assert kind == "int64_val" and decoded == value
        elif isinstance(value, float):
            assert kind == "float_val" and decoded == value
        else:
            assert kind == "string_val" and decoded == value


def test_id_lists_travel_as_one_string_array_parameter() -> None:
    from pymilvus.client.prepare import Prepare

    from memplane_milvus.expressions import Binder

    binder = Binder(templates=True)
    ids = ["a", 'b"c']
    assert binder.many(ids) == "{p0}"
    encoded = Prepare.prepare_expression_template(binder.params)
    assert list(encoded["p0"].array_val.string_data.data) == ["a", 'b"c']
