"""The part of filter-to-SQL translation every SQL store shares.

A filter tree compiles to one boolean expression with bound parameters. What does not
depend on the SQL dialect lives here: the walk over ``And``/``Or``/``Not``, the list
check on ``in``/``nin``, routing a leaf to metadata, a datetime column or a text column,
``ne``/``nin`` on metadata as the negation of ``eq``/``in`` (the reference says a
missing key is "not equal"), and the rules for record columns (``contains`` never holds,
a stored time equals only an aware datetime of the same instant, ordering a time column
takes an aware ISO operand). A dialect subclass spells the leaves: placeholders, JSON
access, membership, collation, and what to do with operands it cannot express (the
sqlite store hands them to the Python reference; pgvector refuses them).

Every leaf a dialect returns must be two-valued (true or false, never NULL), so that
``NOT`` behaves like Python's ``not`` on missing fields. Values only ever travel as
bound parameters; SQL text is built from fixed fragments and the table alias.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any, ClassVar

from memplane.errors import ValidationError
from memplane.filters import And, Cmp, Filter, Not, Or, aware_datetime_operand, field_path

DATETIME_FIELDS = frozenset(["created_at", "updated_at", "observed_at", "expires_at"])
ORDERED_SQL = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}

Fragment = tuple[str, list[Any]]


def negate(fragment: Fragment) -> Fragment:
    return f"(NOT {fragment[0]})", fragment[1]


def has_nul(value: Any) -> bool:
    """Whether a NUL character hides anywhere in a string, list or object operand."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    return False


class FilterCompiler(ABC):
    """Compiles a filter tree for one query; ``alias`` names the records table."""

    TRUE: ClassVar[Fragment]
    FALSE: ClassVar[Fragment]

    def __init__(self, alias: str = "r") -> None:
        self._alias = alias

    def compile(self, node: Filter | None) -> Fragment:
        return self.TRUE if node is None else self._node(node)

    # --- the tree ------------------------------------------------------------------------
    def _node(self, node: Filter) -> Fragment:
        if isinstance(node, And | Or):
            children = node.all if isinstance(node, And) else node.any
            if not children:
                return self.TRUE if isinstance(node, And) else self.FALSE
            parts = [self._node(child) for child in children]
            joiner = " AND " if isinstance(node, And) else " OR "
            return "(" + joiner.join(p[0] for p in parts) + ")", [x for p in parts for x in p[1]]
        if isinstance(node, Not):
            return negate(self._node(node.not_))
        if node.op in ("in", "nin") and not isinstance(node.value, list | tuple):
            raise ValidationError(
                f"{node.op!r} on {node.field!r} takes a list of values, got "
                f"{type(node.value).__name__}; write e.g. {{'{node.op}': [value]}}"
            )
        where, name = field_path(node.field)
        if where == "metadata":
            return self._metadata_leaf(node, name)
        return self._record_field(node, name)

    # --- metadata ------------------------------------------------------------------------
    def _metadata_leaf(self, node: Cmp, key: str) -> Fragment:
        """Hook for dialects that must special-case a whole leaf (NUL characters)."""
        return self._metadata(node, key)

    def _metadata(self, node: Cmp, key: str) -> Fragment:
        op, value = node.op, node.value
        if op == "exists":
            present = self._metadata_present(key)
            return present if value else negate(present)
        if op in ("ne", "nin"):
            # the reference: missing, or not equal -- exactly NOT (present and equal)
            positive = Cmp(op="eq" if op == "ne" else "in", field=node.field, value=value)
            return negate(self._metadata(positive, key))
        if op in ("eq", "in"):
            return self._metadata_equal(node, key, list(value) if op == "in" else [value])
        if op == "contains":
            return self._metadata_contains(node, key)
        return self._metadata_ordered(node, key)

    @abstractmethod
    def _metadata_present(self, key: str) -> Fragment:
        """The key exists and its value is not JSON null."""

    @abstractmethod
    def _metadata_equal(self, node: Cmp, key: str, values: list[Any]) -> Fragment:
        """The key's value equals one of ``values`` as the reference compares them."""

    @abstractmethod
    def _metadata_contains(self, node: Cmp, key: str) -> Fragment:
        """The key holds a JSON array with an element equal to ``node.value``."""

    @abstractmethod
    def _metadata_ordered(self, node: Cmp, key: str) -> Fragment:
        """``gt``/``gte``/``lt``/``lte`` on the key's value."""

    # --- record columns ------------------------------------------------------------------
    def _record_field(self, node: Cmp, name: str) -> Fragment:
        column = f"{self._alias}.{name}"
        is_time = name in DATETIME_FIELDS
        op, value = node.op, node.value
        if op == "exists":
            return f"({column} IS {'NOT ' if value else ''}NULL)", []
        if op == "contains":
            return self.FALSE
        if op in ("eq", "ne", "in", "nin"):
            values = list(value) if op in ("in", "nin") else [value]
            members: list[Any]
            if is_time:  # a stored time equals only an aware datetime of the same instant
                members = [v for v in values if isinstance(v, datetime) and v.tzinfo is not None]
            else:
                members = [v for v in values if isinstance(v, str) and self._storable_text(v)]
            positive = self._column_in(column, members, is_time) if members else self.FALSE
            return negate(positive) if op in ("ne", "nin") else positive
        if is_time:
            if isinstance(value, bool) or not isinstance(value, datetime | str):
                return self.FALSE
            return self._column_ordered(node, column, aware_datetime_operand(value, node.field))
        if isinstance(value, datetime):
            return self._text_ordered_by_datetime(node)
        if not isinstance(value, str):
            return self.FALSE
        return self._column_ordered(node, column, value)

    def _storable_text(self, value: str) -> bool:
        """Whether a text column could hold ``value`` (PostgreSQL text cannot hold NUL)."""
        return True

    @abstractmethod
    def _column_in(self, column: str, members: list[Any], is_time: bool) -> Fragment:
        """The column equals one of ``members`` (aware datetimes or strings); false on NULL."""

    @abstractmethod
    def _column_ordered(self, node: Cmp, column: str, operand: datetime | str) -> Fragment:
        """The column compared with ``operand`` by ``node.op``; false on NULL."""

    @abstractmethod
    def _text_ordered_by_datetime(self, node: Cmp) -> Fragment:
        """Ordering a text column (``attributed_to``) against a datetime operand."""
