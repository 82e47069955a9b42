"""The filter tree that every store translates or refuses.

Two spellings, one tree::

    parse_filter({"topic": "food", "stars": {"gte": 3}})
    And(all=[Cmp(op="eq", field="topic", value="food"), Cmp(op="gte", field="stars", value=3)])

Field names address metadata keys; the record fields in :data:`RECORD_FIELDS` address
the record itself; ``metadata.<key>`` always means a metadata key. Stores must either
evaluate every node or raise :class:`~memplane.errors.UnsupportedFilter` — never drop one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from memplane.errors import UnsupportedFilter, ValidationError
from memplane.inputs import MAX_NESTING, NestingTooDeep, check_datetime_range, check_text

Operator = Literal["eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "exists"]
OPERATORS: frozenset[str] = frozenset(
    ["eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "exists"]
)
LOGICAL: frozenset[str] = frozenset(["AND", "OR", "NOT"])
RECORD_FIELDS: frozenset[str] = frozenset(
    ["created_at", "updated_at", "observed_at", "expires_at", "attributed_to"]
)
Scalar = str | int | float | bool | datetime


class Cmp(BaseModel):
    """A comparison of one field with a value.

    Semantics every store implements:
    - eq/ne: equality; ``ne`` is true when the field is missing.
    - in/nin: value is a list; ``nin`` is true when the field is missing.
    - gt/gte/lt/lte: ordered comparison of numbers, strings or datetimes; false when missing
      or when the kinds differ (a string that is not an ISO 8601 datetime, or a naive one
      against an aware operand, compared with a datetime is false, not an error).
    - contains: the field holds a list that contains the value.
    - exists: value is a bool; whether the field is present (and not null).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    op: Operator
    field: str
    value: Any = None


class And(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    all: list[Filter]


class Or(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    any: list[Filter]


class Not(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    not_: Filter = Field(alias="not")


Filter = Union[Cmp, And, Or, Not]  # noqa: UP007 - a runtime alias pydantic resolves
And.model_rebuild()
Or.model_rebuild()
Not.model_rebuild()


def field_path(field: str) -> tuple[Literal["record", "metadata"], str]:
    """Resolve a filter field name to where it lives."""
    if field.startswith("metadata."):
        return "metadata", field[len("metadata."):]
    if field in RECORD_FIELDS:
        return "record", field
    return "metadata", field


def _too_deep() -> NestingTooDeep:
    return NestingTooDeep(f"filters nest deeper than {MAX_NESTING} levels")


def _tree_depth(node: Filter) -> int:
    """Depth of a ready-made tree, without recursion (it may be absurdly deep)."""
    deepest = 0
    stack: list[tuple[Filter, int]] = [(node, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            break
        children = item.all if isinstance(item, And) else item.any if isinstance(item, Or) else (
            [item.not_] if isinstance(item, Not) else [])
        stack.extend((c, depth + 1) for c in children)
    return deepest


def parse_filter(spec: Filter | Mapping[str, Any] | None, _depth: int = 1) -> Filter | None:
    """Turn the dict spelling into a tree, validating operators and value shapes."""
    if spec is None:
        return None
    if isinstance(spec, Cmp | And | Or | Not):
        if _depth == 1 and _tree_depth(spec) > MAX_NESTING:
            raise _too_deep()
        return spec
    if _depth > MAX_NESTING:
        raise _too_deep()
    if not isinstance(spec, Mapping):
        raise ValidationError(f"filters must be a mapping, got {type(spec).__name__}")
    nodes: list[Filter] = []
    for key, value in spec.items():
        if key in ("AND", "OR"):
            if not isinstance(value, list) or not value:
                raise ValidationError(f"{key} takes a non-empty list of filters")
            children = [_required(parse_filter(v, _depth + 1)) for v in value]
            nodes.append(And(all=children) if key == "AND" else Or(any=children))
        elif key == "NOT":
            nodes.append(Not.model_validate({"not": _required(parse_filter(value, _depth + 1))}))
        elif isinstance(value, Mapping):
            if not value:
                raise ValidationError(f"filter on {key!r} has no operator")
            for op, operand in value.items():
                nodes.append(_cmp(op, key, operand))
        else:
            nodes.append(_cmp("eq", key, value))
    if not nodes:
        return None
    return nodes[0] if len(nodes) == 1 else And(all=nodes)


def _required(node: Filter | None) -> Filter:
    if node is None:
        raise ValidationError("empty filter inside AND/OR/NOT")
    return node


def _cmp(op: str, field: str, value: Any) -> Cmp:
    if op not in OPERATORS:
        raise ValidationError(
            f"unknown filter operator {op!r} on {field!r}; use one of {sorted(OPERATORS)}"
        )
    if not isinstance(field, str) or not field:
        raise ValidationError("filter field names must be non-empty strings")
    check_text(field, "a filter field name")
    if op in ("in", "nin") and not isinstance(value, list | tuple):
        raise ValidationError(f"{op!r} on {field!r} takes a list of values")
    if op == "exists" and not isinstance(value, bool):
        raise ValidationError(f"'exists' on {field!r} takes true or false")
    if isinstance(value, tuple):
        value = list(value)
    for operand in value if isinstance(value, list) else [value]:
        _check_operand(operand, field)
    return Cmp(op=op, field=field, value=value)  # type: ignore[arg-type]


def _check_operand(operand: Any, field: str) -> None:
    """Operands a store could choke on: surrogates, datetimes that overflow in UTC."""
    if isinstance(operand, str):
        check_text(operand, f"the filter value for {field!r}")
        parsed = _stored_datetime(operand)
        if parsed is not None:
            check_datetime_range(parsed, f"the filter value for {field!r}")
    elif isinstance(operand, datetime):
        check_datetime_range(operand, f"the filter value for {field!r}")


def operators_used(node: Filter | None) -> Iterator[str]:
    """Every operator and logical node in a tree (for capability checks)."""
    if node is None:
        return
    if isinstance(node, Cmp):
        yield node.op
    elif isinstance(node, And):
        yield "AND"
        for child in node.all:
            yield from operators_used(child)
    elif isinstance(node, Or):
        yield "OR"
        for child in node.any:
            yield from operators_used(child)
    else:
        yield "NOT"
        yield from operators_used(node.not_)


def require_supported(node: Filter | None, supported: frozenset[str], store: str) -> None:
    """Raise :class:`UnsupportedFilter` naming the first operator a store lacks."""
    for op in operators_used(node):
        if op not in supported:
            raise UnsupportedFilter(
                f"vector store {store!r} cannot evaluate the filter operator {op!r}; "
                f"it supports {sorted(supported)}. Rewrite the filter or choose a store "
                f"that declares it"
            )


_MISSING = object()


def _lookup(record: Any, field: str) -> Any:
    where, name = field_path(field)
    if where == "record":
        value = getattr(record, name, None)
    else:
        value = record.metadata.get(name, _MISSING)
    return _MISSING if value is None else value


def _ordered(a: Any, b: Any, cmp: Callable[[Any, Any], bool]) -> bool:
    """Order the record's value ``a`` against the operand ``b``; values of different
    kinds are incomparable, which is false."""
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    if isinstance(a, int | float) and isinstance(b, int | float):
        return bool(cmp(a, b))
    if isinstance(a, datetime) and isinstance(b, str):
        b = datetime.fromisoformat(b)  # a malformed operand is the caller's error
    if isinstance(a, str) and isinstance(b, datetime):
        # a stored string that is no datetime, or is naive where the operand is aware
        # (or the reverse), is incomparable like any other mismatch: false, not an
        # error, so one record's data cannot break a query (and NOT of it is true)
        parsed = _stored_datetime(a)
        if parsed is None or (parsed.tzinfo is None) != (b.tzinfo is None):
            return False
        a = parsed
    if type(a) is type(b) and isinstance(a, str | datetime):
        return bool(cmp(a, b))
    return False


def _stored_datetime(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return bool(a == b)


def evaluate(node: Filter | None, record: Any) -> bool:
    """Reference semantics: evaluate a tree against a record in Python.

    The embedded store and the conformance suite use this; other stores translate
    the tree to their own query language and are checked against it.
    """
    if node is None:
        return True
    if isinstance(node, And):
        return all(evaluate(c, record) for c in node.all)
    if isinstance(node, Or):
        return any(evaluate(c, record) for c in node.any)
    if isinstance(node, Not):
        return not evaluate(node.not_, record)
    value = _lookup(record, node.field)
    op, operand = node.op, node.value
    if op == "exists":
        return bool((value is not _MISSING) == operand)
    if op == "ne":
        return value is _MISSING or not _equal(value, operand)
    if op == "nin":
        return value is _MISSING or not any(_equal(value, o) for o in operand)
    if value is _MISSING:
        return False
    if op == "eq":
        return _equal(value, operand)
    if op == "in":
        return any(_equal(value, o) for o in operand)
    if op == "contains":
        return isinstance(value, list) and any(_equal(v, operand) for v in value)
    comparisons: dict[str, Callable[[Any, Any], bool]] = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    return bool(_ordered(value, operand, comparisons[op]))


def aware_datetime_operand(value: datetime | str, field_name: str) -> datetime:
    """The operand of an ordering filter on a datetime field (created_at, observed_at, ...),
    as an aware datetime; stores that translate filters to SQL share this check."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError(
                f"filter on {field_name!r} compares with {value!r}, which is not an ISO 8601 "
                f"datetime; pass a datetime or a string like '2024-05-01T12:00:00+00:00'"
            ) from None
    if value.tzinfo is None:
        raise ValidationError(
            f"filter on {field_name!r} compares with a datetime without a timezone; stored "
            f"times are timezone-aware, so pass e.g. datetime(..., tzinfo=timezone.utc)"
        )
    return value
