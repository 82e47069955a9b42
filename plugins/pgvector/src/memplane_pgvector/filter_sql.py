"""Translate a filter tree into a PostgreSQL boolean expression over JSONB.

Every value — metadata keys included — travels as a bound parameter (``%s``); the
SQL text is built only from fixed fragments, so no value can change the query's
shape. Every leaf is two-valued (``coalesce(..., false)`` or a ``CASE``), so ``NOT``
behaves like Python's ``not`` on missing fields. Casts that could fail (``::numeric``
on a non-number) sit behind ``CASE`` because PostgreSQL does not promise to evaluate
``AND`` left to right.

Comparisons whose operand has no faithful SQL spelling are refused with
:class:`~memplane.errors.UnsupportedFilter` rather than approximated: ordering a
metadata string (or ``attributed_to``) against a datetime, and list or object
operands holding booleans (Python's ``[True] == [1]`` is true, JSONB's is not).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from memplane.errors import UnsupportedFilter, ValidationError
from memplane.filters import And, Cmp, Filter, Not, Or, aware_datetime_operand, evaluate, field_path

DATETIME_FIELDS = frozenset(["created_at", "updated_at", "observed_at", "expires_at"])
_ORDERED = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}

Fragment = tuple[str, list[Any]]
TRUE: Fragment = ("true", [])
FALSE: Fragment = ("false", [])


def _not(fragment: Fragment) -> Fragment:
    return f"(NOT {fragment[0]})", fragment[1]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


def _has_bool_or_odd_number(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list | tuple):
        return any(_has_bool_or_odd_number(v) for v in value)
    if isinstance(value, dict):
        return any(_has_bool_or_odd_number(v) for v in value.values())
    return False


def _refuse(node: Cmp, why: str) -> UnsupportedFilter:
    return UnsupportedFilter(
        f"vector store 'pgvector' cannot evaluate {node.op!r} on {node.field!r} with "
        f"{node.value!r}: {why}; rewrite the filter"
    )


def _numeric(value: int | float) -> Decimal | int:
    # floats go as their shortest decimal (what json.dumps stored), never through float8
    return value if isinstance(value, int) else Decimal(repr(value))


class FilterTranslator:
    """Builds one SQL boolean expression for a tree; ``alias`` names the memories table."""

    def __init__(self, alias: str = "r") -> None:
        self._alias = alias

    def translate(self, node: Filter | None) -> Fragment:
        if node is None:
            return TRUE
        return self._node(node)

    def _node(self, node: Filter) -> Fragment:
        if isinstance(node, And | Or):
            children = node.all if isinstance(node, And) else node.any
            if not children:
                return TRUE if isinstance(node, And) else FALSE
            parts = [self._node(child) for child in children]
            joiner = " AND " if isinstance(node, And) else " OR "
            return "(" + joiner.join(p[0] for p in parts) + ")", [x for p in parts for x in p[1]]
        if isinstance(node, Not):
            return _not(self._node(node.not_))
        if node.op in ("in", "nin") and not isinstance(node.value, list | tuple):
            raise ValidationError(
                f"{node.op!r} on {node.field!r} takes a list of values, got "
                f"{type(node.value).__name__}; write e.g. {{'{node.op}': [value]}}"
            )
        where, name = field_path(node.field)
        if where == "metadata":
            if _has_nul(name):
                # PostgreSQL text cannot hold NUL, so no stored key has one: the field is
                # missing on every row, and the reference says what that evaluates to
                return TRUE if evaluate(node, SimpleNamespace(metadata={})) else FALSE
            return self._metadata(node, name)
        if name in DATETIME_FIELDS:
            return self._datetime_field(node, name)
        return self._text_field(node, name)

    # --- metadata ---------------------------------------------------------------------
    def _value(self, key: str) -> Fragment:
        return f"({self._alias}.metadata -> %s)", [key]

    def _metadata(self, node: Cmp, key: str) -> Fragment:
        op, value = node.op, node.value
        m_sql, m_params = self._value(key)
        if op == "exists":
            present = (f"coalesce(jsonb_typeof({m_sql}) <> 'null', false)", m_params)
            return present if value else _not(present)
        if op in ("ne", "nin"):
            # the reference: missing, or not equal -- exactly NOT (present and equal)
            positive = Cmp(op="eq" if op == "ne" else "in", field=node.field, value=value)
            return _not(self._metadata(positive, key))
        if op in ("eq", "in"):
            values = list(value) if op == "in" else [value]
            literals = [lit for v in values if (lit := self._json_literal(node, v)) is not None]
            if not literals:
                return FALSE
            return (f"coalesce({m_sql} = ANY(%s::jsonb[]), false)", [*m_params, literals])
        if op == "contains":
            literal = self._json_literal(node, value, in_list=True)
            if literal is None:
                return FALSE
            return (
                f"(CASE WHEN jsonb_typeof({m_sql}) = 'array' THEN EXISTS (SELECT 1 FROM "
                f"jsonb_array_elements({m_sql}) AS e(v) WHERE e.v = %s::jsonb) ELSE false END)",
                [*m_params, *m_params, literal],
            )
        # ordered comparisons
        if value is None or isinstance(value, (bool, list | tuple | dict)):
            return FALSE
        if isinstance(value, datetime):
            raise _refuse(node, "metadata strings are not ordered as datetimes in SQL (compare "
                                "with the ISO 8601 string, written as stored, or store a number)")
        if isinstance(value, int | float):
            if isinstance(value, float) and math.isnan(value):
                return FALSE
            return (
                f"(CASE WHEN jsonb_typeof({m_sql}) = 'number' THEN ({m_sql})::numeric "
                f"{_ORDERED[op]} %s::numeric ELSE false END)",
                [*m_params, *m_params, _numeric(value)],
            )
        if isinstance(value, str):
            if "\x00" in value:
                raise _refuse(node, "PostgreSQL text cannot hold NUL characters")
            # COLLATE "C" on UTF-8 orders by code point, as Python compares strings
            return (
                f"(CASE WHEN jsonb_typeof({m_sql}) = 'string' THEN ({m_sql} #>> '{{}}') "
                f"COLLATE \"C\" {_ORDERED[op]} %s ELSE false END)",
                [*m_params, *m_params, value],
            )
        return FALSE

    @staticmethod
    def _json_literal(node: Cmp, value: Any, *, in_list: bool = False) -> str | None:
        """The JSON text of an operand a stored value could equal, or None when none can
        (None is never a present value but may be a list element; datetimes, NaN and
        NUL never reach JSONB)."""
        if value is None:
            return "null" if in_list else None
        if isinstance(value, datetime):
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if _has_nul(value):
            return None
        if isinstance(value, list | tuple | dict) and _has_bool_or_odd_number(value):
            raise _refuse(node, "list or object operands holding booleans or non-finite "
                                "numbers compare differently in JSONB")
        try:
            return json.dumps(value, allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError):
            raise _refuse(node, "the operand is not JSON") from None

    # --- record fields -------------------------------------------------------------------
    def _datetime_field(self, node: Cmp, name: str) -> Fragment:
        column = f"{self._alias}.{name}"
        op, value = node.op, node.value
        if op == "exists":
            return f"({column} IS {'NOT ' if value else ''}NULL)", []
        if op == "contains":
            return FALSE
        if op in ("eq", "ne", "in", "nin"):
            values = list(value) if op in ("in", "nin") else [value]
            # a stored datetime equals only an aware datetime of the same instant
            stamps = [v for v in values if isinstance(v, datetime) and v.tzinfo is not None]
            positive = (f"coalesce({column} = ANY(%s::timestamptz[]), false)", [stamps]) if stamps else FALSE
            return _not(positive) if op in ("ne", "nin") else positive
        if isinstance(value, bool) or not isinstance(value, datetime | str):
            return FALSE
        moment = aware_datetime_operand(value, node.field)
        return f"coalesce({column} {_ORDERED[op]} %s, false)", [moment]

    def _text_field(self, node: Cmp, name: str) -> Fragment:
        column = f"{self._alias}.{name}"
        op, value = node.op, node.value
        if op == "exists":
            return f"({column} IS {'NOT ' if value else ''}NULL)", []
        if op == "contains":
            return FALSE
        if op in ("eq", "ne", "in", "nin"):
            values = list(value) if op in ("in", "nin") else [value]
            texts = [v for v in values if isinstance(v, str) and "\x00" not in v]
            positive = (f"coalesce({column} = ANY(%s::text[]), false)", [texts]) if texts else FALSE
            return _not(positive) if op in ("ne", "nin") else positive
        if isinstance(value, datetime):
            raise _refuse(node, "text fields are not ordered as datetimes in SQL (compare "
                                "with a string)")
        if not isinstance(value, str):
            return FALSE
        if "\x00" in value:
            raise _refuse(node, "PostgreSQL text cannot hold NUL characters")
        return f"coalesce({column} COLLATE \"C\" {_ORDERED[op]} %s, false)", [value]
