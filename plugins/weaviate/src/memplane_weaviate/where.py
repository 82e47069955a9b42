"""Translate the core filter tree into Weaviate filter conditions (no SDK here).

The result is a small neutral tree (:class:`Cond`, :class:`Group`, ``TRUE``/``FALSE``)
that :mod:`memplane_weaviate.store` turns into ``weaviate.classes.query.Filter``
objects; values travel as typed gRPC filter values, never as query text.

Weaviate evaluates a comparison on an object without the property as false and
``Not`` as the complement, which is memplane's reading of missing fields; the typed
metadata slots (:mod:`memplane_weaviate.layout`) keep bools, numbers and strings
apart. Comparisons on a property the schema does not have yet are false (no object
holds that key with that type). What cannot be expressed raises UnsupportedFilter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from memplane.errors import UnsupportedFilter, ValidationError
from memplane.filters import And, Cmp, Filter, Not, Or, field_path
from memplane_weaviate.layout import DATETIME_FIELDS, hexed, meta_property

_ORDERED = {"gt": "GreaterThan", "gte": "GreaterThanEqual", "lt": "LessThan",
            "lte": "LessThanEqual"}


@dataclass(frozen=True)
class Cond:
    """``prop`` <operator> ``value``; operator is a Weaviate filter operator name."""

    prop: str
    operator: str
    value: Any


@dataclass(frozen=True)
class Group:
    kind: str  # "and" | "or" | "not"
    children: tuple[Any, ...]


TRUE = Group("and", ())
FALSE = Group("or", ())

Where = Cond | Group


def all_of(*parts: Where) -> Where:
    items = [p for p in parts if p != TRUE]
    if FALSE in items:
        return FALSE
    return items[0] if len(items) == 1 else Group("and", tuple(items))


def any_of(*parts: Where) -> Where:
    items = [p for p in parts if p != FALSE]
    if TRUE in items:
        return TRUE
    if not items:
        return FALSE
    return items[0] if len(items) == 1 else Group("or", tuple(items))


def negate(part: Where) -> Where:
    if part == TRUE:
        return FALSE
    if part == FALSE:
        return TRUE
    return Group("not", (part,))


class WhereCompiler:
    """Compiles filters against the set of properties the schema has."""

    def __init__(self, has_property: Callable[[str], bool]) -> None:
        self.has = has_property

    def compile(self, node: Filter | None) -> Where:
        if node is None:
            return TRUE
        if isinstance(node, And):
            return all_of(*(self.compile(c) for c in node.all))
        if isinstance(node, Or):
            return any_of(*(self.compile(c) for c in node.any))
        if isinstance(node, Not):
            return negate(self.compile(node.not_))
        return self._cmp(node)

    def _cmp(self, node: Cmp) -> Where:
        if node.op == "ne":
            return negate(self._cmp(Cmp(op="eq", field=node.field, value=node.value)))
        if node.op == "nin":
            return negate(self._cmp(Cmp(op="in", field=node.field, value=node.value)))
        if node.op == "in":
            return any_of(*(self._cmp(Cmp(op="eq", field=node.field, value=v))
                            for v in node.value))
        where, name = field_path(node.field)
        if where == "record" and name in DATETIME_FIELDS:
            return self._datetime_field(name, node)
        if where == "record":
            return self._attributed_to(node)
        return self._metadata(name, node)

    def _on(self, prop: str, operator: str, value: Any) -> Where:
        return Cond(prop, operator, value) if self.has(prop) else FALSE

    def _datetime_field(self, name: str, node: Cmp) -> Where:
        op, value = node.op, node.value
        if op == "exists":
            present = self._on("present", "ContainsAny", [name])
            return present if value else negate(present)
        if op == "contains":
            return FALSE
        if op == "eq":
            if not isinstance(value, datetime):
                return FALSE  # a datetime never equals a string or a number
            return self._on(name, "Equal", _aware(value, node.field))
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise ValidationError(
                    f"filter on {node.field!r}: {value!r} is not an ISO 8601 datetime"
                ) from None
        if not isinstance(value, datetime):
            return FALSE
        return self._on(name, _ORDERED[op], _aware(value, node.field))

    def _attributed_to(self, node: Cmp) -> Where:
        op, value = node.op, node.value
        if op == "exists":
            present = self._on("present", "ContainsAny", ["attributed_to"])
            return present if value else negate(present)
        if op == "contains":
            return FALSE
        if isinstance(value, datetime) and op in _ORDERED:
            raise UnsupportedFilter(
                "the weaviate store cannot compare 'attributed_to' with a datetime; "
                "pass an ISO 8601 string to compare as text"
            )
        if not isinstance(value, str):
            return FALSE
        operator = "Equal" if op == "eq" else _ORDERED[op]
        return self._on("attributed_to", operator, hexed(value))

    def _metadata(self, key: str, node: Cmp) -> Where:
        op, value = node.op, node.value
        if op == "exists":
            present = self._on("meta_keys", "ContainsAny", [hexed(key)])
            return present if value else negate(present)
        if isinstance(value, list | dict | tuple | set):
            raise UnsupportedFilter(
                f"the weaviate store cannot compare metadata {key!r} with a list or object "
                f"({op!r}); compare with a single string, number or bool"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise UnsupportedFilter("Weaviate filters cannot compare with NaN or infinity")
        if op == "contains":
            slot, typed = _typed(value)
            if slot is None:
                return FALSE
            return self._on(meta_property(key, "l" + slot), "ContainsAny", [typed])
        if op == "eq":
            slot, typed = _typed(value)
            if slot is None:
                return FALSE
            return self._on(meta_property(key, slot), "Equal", typed)
        if isinstance(value, bool) or value is None:
            return FALSE
        if isinstance(value, datetime):
            slot = "t" if value.tzinfo is not None else "tn"
            stamp = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
            return self._on(meta_property(key, slot), _ORDERED[op], stamp)
        slot, typed = _typed(value)
        if slot is None:
            return FALSE
        return self._on(meta_property(key, slot), _ORDERED[op], typed)


def _typed(value: Any) -> tuple[str | None, Any]:
    if isinstance(value, bool):
        return "b", value
    if isinstance(value, int | float):
        return "n", float(value)
    if isinstance(value, str):
        return "s", hexed(value)
    return None, None


def _aware(value: datetime, field_name: str) -> datetime:
    if value.tzinfo is None:
        raise UnsupportedFilter(
            f"filter on {field_name!r} uses a naive datetime; the weaviate store compares "
            f"timestamps as instants, so pass a timezone-aware datetime (e.g. UTC)"
        )
    return value
