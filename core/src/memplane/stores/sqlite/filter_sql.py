"""Translate a filter tree into a SQL boolean expression with bound parameters.

The result must agree with :func:`memplane.filters.evaluate` on every record read
back from the store. Field names and values only ever travel as bound parameters,
so no value can change the shape of the query.

Every leaf is two-valued (0 or 1, never NULL), so ``NOT`` behaves like Python's
``not``. Metadata keys are matched with ``json_each(...).key = ?`` rather than a
JSON path, because a path cannot spell every key (quotes, dots, brackets).

Comparisons whose operand has no faithful SQL spelling (lists, objects, integers
beyond 64 bits, NaN, datetimes against metadata strings, ...) are evaluated by the
reference :func:`evaluate` itself, one leaf per call, through a Python SQL function.
Operands the reference cannot take (``in`` without a list, a datetime field ordered
against a non-ISO string or a naive datetime) are refused with ``ValidationError``
before the query runs, so the function never has to guess.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from memplane.errors import ValidationError
from memplane.filters import And, Cmp, Filter, Not, Or, aware_datetime_operand, evaluate, field_path
from memplane.stores.sqlite.codec import dt_from_db, dt_to_db

DATETIME_FIELDS = frozenset(["created_at", "updated_at", "observed_at", "expires_at"])
FALLBACK_FUNCTION = "memplane_filter_node"
_ORDERED_SQL = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_INT64 = (-(2**63), 2**63 - 1)
_NUMERIC = "IN ('integer', 'real')"
_NUL_ESCAPE = "\\u0000"  # how json.dumps writes a NUL character


class FallbackNodes:
    """Comparisons handed to Python during one query, by integer token."""

    def __init__(self) -> None:
        self._nodes: dict[int, Cmp] = {}
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def register(self, node: Cmp) -> int:
        with self._lock:
            token = next(self._counter)
            self._nodes[token] = node
            return token

    def release(self, tokens: list[int]) -> None:
        with self._lock:
            for token in tokens:
                self._nodes.pop(token, None)

    def evaluate(self, token: int, metadata: str, attributed_to: str | None, created_at: str,
                 updated_at: str, observed_at: str | None, expires_at: str | None) -> int:
        """The SQL function body: the reference semantics on one row."""
        node = self._nodes[token]
        row = SimpleNamespace(
            metadata=json.loads(metadata),
            attributed_to=attributed_to,
            created_at=dt_from_db(created_at),
            updated_at=dt_from_db(updated_at),
            observed_at=dt_from_db(observed_at),
            expires_at=dt_from_db(expires_at),
        )
        return 1 if evaluate(node, row) else 0


@dataclass
class SQLFilter:
    sql: str
    params: list[Any] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)


Fragment = tuple[str, list[Any]]
FALSE: Fragment = ("0", [])
TRUE: Fragment = ("1", [])


def _not(fragment: Fragment) -> Fragment:
    return f"(NOT {fragment[0]})", fragment[1]


def _simple_scalar(value: Any) -> bool:
    """Values SQLite can bind and compare exactly like Python does."""
    if value is None or isinstance(value, bool | str):
        return True
    if isinstance(value, int):
        return _INT64[0] <= value <= _INT64[1]
    if isinstance(value, float):
        return math.isfinite(value)
    return False


class FilterTranslator:
    """Builds one :class:`SQLFilter` for a tree; ``alias`` names the records table."""

    def __init__(self, fallback: FallbackNodes, alias: str = "r") -> None:
        self._fallback = fallback
        self._alias = alias
        self._tokens: list[int] = []

    @property
    def tokens(self) -> list[int]:
        """Fallback tokens registered so far; release them after the query."""
        return self._tokens

    def translate(self, node: Filter | None) -> SQLFilter:
        if node is None:
            return SQLFilter(sql="1")
        sql, params = self._node(node)
        return SQLFilter(sql=sql, params=params, tokens=list(self._tokens))

    # --- tree ----------------------------------------------------------------------
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
            if _has_nul(name) or _has_nul(node.value):
                return self._fallback_sql(node)
            return self._guard_nul(node, self._metadata(node, name))
        if name in DATETIME_FIELDS:
            return self._datetime_field(node, name)
        return self._text_field(node, name)

    def _fallback_sql(self, node: Cmp) -> Fragment:
        token = self._fallback.register(node)
        self._tokens.append(token)
        a = self._alias
        return (
            f"{FALLBACK_FUNCTION}(?, {a}.metadata, {a}.attributed_to, {a}.created_at, "
            f"{a}.updated_at, {a}.observed_at, {a}.expires_at)",
            [token],
        )

    # --- metadata --------------------------------------------------------------------
    def _guard_nul(self, node: Cmp, fragment: Fragment) -> Fragment:
        """SQLite's JSON functions cut strings at NUL characters; rows whose metadata
        holds one (escaped as \\u0000 in the JSON text) go to the reference instead."""
        if fragment in (TRUE, FALSE):
            return fragment
        fallback_sql, fallback_params = self._fallback_sql(node)
        return (
            f"(CASE WHEN instr({self._alias}.metadata, ?) > 0 THEN {fallback_sql} "
            f"ELSE {fragment[0]} END)",
            [_NUL_ESCAPE, *fallback_params, *fragment[1]],
        )

    def _metadata(self, node: Cmp, key: str) -> Fragment:
        op, value = node.op, node.value
        if op == "exists":
            present = self._entry(key, ("m.type <> 'null'", []))
            return present if value else _not(present)
        if op in ("ne", "nin"):
            # the reference: missing, or not equal -- exactly NOT (present and equal)
            positive = Cmp(op="eq" if op == "ne" else "in", field=node.field, value=value)
            return _not(self._metadata(positive, key))
        if op in ("eq", "in", "contains"):
            values = list(value) if op == "in" else [value]
            if not all(_simple_scalar(v) or isinstance(v, datetime) for v in values):
                return self._fallback_sql(node)
            if op == "contains":
                sql, params = _json_equal("e", value)
                return self._entry(key, (
                    f"m.type = 'array' AND EXISTS (SELECT 1 FROM json_each(m.value) AS e WHERE {sql})",
                    params,
                ))
            # a present metadata value is never null and never a datetime
            alternatives = [_json_equal("m", v) for v in values
                            if v is not None and not isinstance(v, datetime)]
            if not alternatives:
                return FALSE
            return self._entry(key, (
                "(" + " OR ".join(a[0] for a in alternatives) + ")",
                [x for a in alternatives for x in a[1]],
            ))
        # ordered comparisons
        if isinstance(value, datetime) or not _simple_scalar(value):
            return self._fallback_sql(node)
        if value is None or isinstance(value, bool):
            return FALSE
        kind = f"m.type {_NUMERIC}" if isinstance(value, int | float) else "m.type = 'text'"
        return self._entry(key, (f"{kind} AND m.atom {_ORDERED_SQL[op]} ?", [value]))

    def _entry(self, key: str, condition: Fragment) -> Fragment:
        """Whether the metadata entry named ``key`` exists and meets ``condition``."""
        return (
            f"EXISTS (SELECT 1 FROM json_each({self._alias}.metadata) AS m "
            f"WHERE m.key = ? AND {condition[0]})",
            [key, *condition[1]],
        )

    # --- record fields -----------------------------------------------------------------
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
            stamps = [dt_to_db(v) for v in values if isinstance(v, datetime) and v.tzinfo is not None]
            positive = (
                (f"coalesce({column} IN ({', '.join('?' * len(stamps))}), 0)", list(stamps))
                if stamps else FALSE
            )
            return _not(positive) if op in ("ne", "nin") else positive
        if isinstance(value, bool) or not isinstance(value, datetime | str):
            return FALSE
        moment = aware_datetime_operand(value, node.field)
        return f"coalesce({column} {_ORDERED_SQL[op]} ?, 0)", [dt_to_db(moment)]

    def _text_field(self, node: Cmp, name: str) -> Fragment:
        column = f"{self._alias}.{name}"
        op, value = node.op, node.value
        if op == "exists":
            return f"({column} IS {'NOT ' if value else ''}NULL)", []
        if op == "contains":
            return FALSE
        if op in ("eq", "ne", "in", "nin"):
            values = list(value) if op in ("in", "nin") else [value]
            texts = [v for v in values if isinstance(v, str)]
            positive = (
                (f"coalesce({column} IN ({', '.join('?' * len(texts))}), 0)", texts)
                if texts else FALSE
            )
            return _not(positive) if op in ("ne", "nin") else positive
        if isinstance(value, datetime):
            return self._fallback_sql(node)
        if not isinstance(value, str):
            return FALSE
        return f"coalesce({column} {_ORDERED_SQL[op]} ?, 0)", [value]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


def _json_equal(alias: str, value: Any) -> Fragment:
    """A json_each row ``alias`` equals the scalar ``value`` as filters._equal says."""
    if value is None:
        return f"{alias}.type = 'null'", []
    if isinstance(value, bool):
        return f"{alias}.type = '{'true' if value else 'false'}'", []
    if isinstance(value, datetime):
        return FALSE
    if isinstance(value, int | float):
        return f"({alias}.type {_NUMERIC} AND {alias}.atom = ?)", [value]
    return f"({alias}.type = 'text' AND {alias}.atom = ?)", [value]
