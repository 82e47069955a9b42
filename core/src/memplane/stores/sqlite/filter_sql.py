"""Translate a filter tree into a SQLite boolean expression with bound parameters.

The dialect of :class:`memplane.stores.filter_compiler.FilterCompiler`, which walks
the tree and owns the rules shared with other SQL stores.

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
from typing import Any, ClassVar

from memplane.filters import Cmp, Filter, evaluate
from memplane.stores.filter_compiler import ORDERED_SQL, FilterCompiler, Fragment, has_nul
from memplane.stores.sqlite.codec import dt_from_db, dt_to_db

FALLBACK_FUNCTION = "memplane_filter_node"
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


def _simple_scalar(value: Any) -> bool:
    """Values SQLite can bind and compare exactly like Python does."""
    if value is None or isinstance(value, bool | str):
        return True
    if isinstance(value, int):
        return _INT64[0] <= value <= _INT64[1]
    if isinstance(value, float):
        return math.isfinite(value)
    return False


class FilterTranslator(FilterCompiler):
    """SQLite's dialect: ``?`` placeholders, ``json_each`` for metadata, and the Python
    reference (through :class:`FallbackNodes`) for operands SQL cannot spell."""

    TRUE: ClassVar[Fragment] = ("1", [])
    FALSE: ClassVar[Fragment] = ("0", [])

    def __init__(self, fallback: FallbackNodes, alias: str = "r") -> None:
        super().__init__(alias)
        self._fallback = fallback
        self._tokens: list[int] = []

    @property
    def tokens(self) -> list[int]:
        """Fallback tokens registered so far; release them after the query."""
        return self._tokens

    def translate(self, node: Filter | None) -> SQLFilter:
        sql, params = self.compile(node)
        return SQLFilter(sql=sql, params=params, tokens=list(self._tokens))

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
    def _metadata_leaf(self, node: Cmp, key: str) -> Fragment:
        if has_nul(key) or has_nul(node.value):
            return self._fallback_sql(node)
        fragment = self._metadata(node, key)
        if fragment in (self.TRUE, self.FALSE):
            return fragment
        # SQLite's JSON functions cut strings at NUL characters; rows whose metadata
        # holds one (escaped as \u0000 in the JSON text) go to the reference instead
        fallback_sql, fallback_params = self._fallback_sql(node)
        return (
            f"(CASE WHEN instr({self._alias}.metadata, ?) > 0 THEN {fallback_sql} "
            f"ELSE {fragment[0]} END)",
            [_NUL_ESCAPE, *fallback_params, *fragment[1]],
        )

    def _metadata_present(self, key: str) -> Fragment:
        return self._entry(key, ("m.type <> 'null'", []))

    def _metadata_equal(self, node: Cmp, key: str, values: list[Any]) -> Fragment:
        if not all(_simple_scalar(v) or isinstance(v, datetime) for v in values):
            return self._fallback_sql(node)
        # a present metadata value is never null and never a datetime
        alternatives = [_json_equal("m", v) for v in values
                        if v is not None and not isinstance(v, datetime)]
        if not alternatives:
            return self.FALSE
        return self._entry(key, (
            "(" + " OR ".join(a[0] for a in alternatives) + ")",
            [x for a in alternatives for x in a[1]],
        ))

    def _metadata_contains(self, node: Cmp, key: str) -> Fragment:
        value = node.value
        if not (_simple_scalar(value) or isinstance(value, datetime)):
            return self._fallback_sql(node)
        sql, params = _json_equal("e", value)
        return self._entry(key, (
            f"m.type = 'array' AND EXISTS (SELECT 1 FROM json_each(m.value) AS e WHERE {sql})",
            params,
        ))

    def _metadata_ordered(self, node: Cmp, key: str) -> Fragment:
        value = node.value
        if isinstance(value, datetime) or not _simple_scalar(value):
            return self._fallback_sql(node)
        if value is None or isinstance(value, bool):
            return self.FALSE
        kind = f"m.type {_NUMERIC}" if isinstance(value, int | float) else "m.type = 'text'"
        return self._entry(key, (f"{kind} AND m.atom {ORDERED_SQL[node.op]} ?", [value]))

    def _entry(self, key: str, condition: Fragment) -> Fragment:
        """Whether the metadata entry named ``key`` exists and meets ``condition``."""
        return (
            f"EXISTS (SELECT 1 FROM json_each({self._alias}.metadata) AS m "
            f"WHERE m.key = ? AND {condition[0]})",
            [key, *condition[1]],
        )

    # --- record columns ----------------------------------------------------------------
    def _column_in(self, column: str, members: list[Any], is_time: bool) -> Fragment:
        params = [dt_to_db(v) for v in members] if is_time else list(members)
        return f"coalesce({column} IN ({', '.join('?' * len(params))}), 0)", params

    def _column_ordered(self, node: Cmp, column: str, operand: datetime | str) -> Fragment:
        param = dt_to_db(operand) if isinstance(operand, datetime) else operand
        return f"coalesce({column} {ORDERED_SQL[node.op]} ?, 0)", [param]

    def _text_ordered_by_datetime(self, node: Cmp) -> Fragment:
        return self._fallback_sql(node)


def _json_equal(alias: str, value: Any) -> Fragment:
    """A json_each row ``alias`` equals the scalar ``value`` as filters._equal says."""
    if value is None:
        return f"{alias}.type = 'null'", []
    if isinstance(value, bool):
        return f"{alias}.type = '{'true' if value else 'false'}'", []
    if isinstance(value, datetime):
        return FilterTranslator.FALSE
    if isinstance(value, int | float):
        return f"({alias}.type {_NUMERIC} AND {alias}.atom = ?)", [value]
    return f"({alias}.type = 'text' AND {alias}.atom = ?)", [value]
