"""Translate a filter tree into a PostgreSQL boolean expression over JSONB.

The PostgreSQL dialect of core's :class:`memplane.stores.filter_compiler.FilterCompiler`,
which walks the tree and owns the rules shared with the sqlite store.

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
from typing import Any, ClassVar

from memplane.errors import UnsupportedFilter
from memplane.filters import Cmp, Filter, evaluate
from memplane.stores.filter_compiler import ORDERED_SQL, FilterCompiler, Fragment, has_nul


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


class FilterTranslator(FilterCompiler):
    """PostgreSQL's dialect: ``%s`` placeholders, JSONB operators for metadata, ``COLLATE
    "C"`` so strings order by code point as Python's do; ``alias`` names the memories table."""

    TRUE: ClassVar[Fragment] = ("true", [])
    FALSE: ClassVar[Fragment] = ("false", [])

    def translate(self, node: Filter | None) -> Fragment:
        return self.compile(node)

    # --- metadata ---------------------------------------------------------------------
    def _metadata_leaf(self, node: Cmp, key: str) -> Fragment:
        if has_nul(key):
            # PostgreSQL text cannot hold NUL, so no stored key has one: the field is
            # missing on every row, and the reference says what that evaluates to
            return self.TRUE if evaluate(node, SimpleNamespace(metadata={})) else self.FALSE
        return self._metadata(node, key)

    def _value(self, key: str) -> Fragment:
        return f"({self._alias}.metadata -> %s)", [key]

    def _metadata_present(self, key: str) -> Fragment:
        m_sql, m_params = self._value(key)
        return f"coalesce(jsonb_typeof({m_sql}) <> 'null', false)", m_params

    def _metadata_equal(self, node: Cmp, key: str, values: list[Any]) -> Fragment:
        literals = [lit for v in values if (lit := self._json_literal(node, v)) is not None]
        if not literals:
            return self.FALSE
        m_sql, m_params = self._value(key)
        return f"coalesce({m_sql} = ANY(%s::jsonb[]), false)", [*m_params, literals]

    def _metadata_contains(self, node: Cmp, key: str) -> Fragment:
        literal = self._json_literal(node, node.value, in_list=True)
        if literal is None:
            return self.FALSE
        m_sql, m_params = self._value(key)
        return (
            f"(CASE WHEN jsonb_typeof({m_sql}) = 'array' THEN EXISTS (SELECT 1 FROM "
            f"jsonb_array_elements({m_sql}) AS e(v) WHERE e.v = %s::jsonb) ELSE false END)",
            [*m_params, *m_params, literal],
        )

    def _metadata_ordered(self, node: Cmp, key: str) -> Fragment:
        op, value = node.op, node.value
        m_sql, m_params = self._value(key)
        if value is None or isinstance(value, (bool, list | tuple | dict)):
            return self.FALSE
        if isinstance(value, datetime):
            raise _refuse(node, "metadata strings are not ordered as datetimes in SQL (compare "
                                "with the ISO 8601 string, written as stored, or store a number)")
        if isinstance(value, int | float):
            if isinstance(value, float) and math.isnan(value):
                return self.FALSE
            return (
                f"(CASE WHEN jsonb_typeof({m_sql}) = 'number' THEN ({m_sql})::numeric "
                f"{ORDERED_SQL[op]} %s::numeric ELSE false END)",
                [*m_params, *m_params, _numeric(value)],
            )
        if isinstance(value, str):
            if "\x00" in value:
                raise _refuse(node, "PostgreSQL text cannot hold NUL characters")
            # COLLATE "C" on UTF-8 orders by code point, as Python compares strings
            return (
                f"(CASE WHEN jsonb_typeof({m_sql}) = 'string' THEN ({m_sql} #>> '{{}}') "
                f"COLLATE \"C\" {ORDERED_SQL[op]} %s ELSE false END)",
                [*m_params, *m_params, value],
            )
        return self.FALSE

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
        if has_nul(value):
            return None
        if isinstance(value, list | tuple | dict) and _has_bool_or_odd_number(value):
            raise _refuse(node, "list or object operands holding booleans or non-finite "
                                "numbers compare differently in JSONB")
        try:
            return json.dumps(value, allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError):
            raise _refuse(node, "the operand is not JSON") from None

    # --- record columns -----------------------------------------------------------------
    def _storable_text(self, value: str) -> bool:
        return "\x00" not in value

    def _column_in(self, column: str, members: list[Any], is_time: bool) -> Fragment:
        kind = "timestamptz" if is_time else "text"
        return f"coalesce({column} = ANY(%s::{kind}[]), false)", [members]

    def _column_ordered(self, node: Cmp, column: str, operand: datetime | str) -> Fragment:
        if isinstance(operand, datetime):
            return f"coalesce({column} {ORDERED_SQL[node.op]} %s, false)", [operand]
        if "\x00" in operand:
            raise _refuse(node, "PostgreSQL text cannot hold NUL characters")
        return f"coalesce({column} COLLATE \"C\" {ORDERED_SQL[node.op]} %s, false)", [operand]

    def _text_ordered_by_datetime(self, node: Cmp) -> Fragment:
        raise _refuse(node, "text fields are not ordered as datetimes in SQL (compare "
                            "with a string)")
