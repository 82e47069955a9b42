"""Translate the core filter tree into a Milvus boolean expression.

Values never become expression syntax: each one goes through a :class:`Binder`, which
either names it as an expression template parameter (``{p0}``, sent beside the
expression as ``filter_params``) or renders it as an escaped literal (Milvus Lite has
no templates). Metadata keys cannot be template parameters, so they are always
escaped string literals inside ``meta_idx["..."]``.

Exactness. Milvus compares JSON values across types (``true == 1`` holds there) and
propagates nulls (``not (x == 1)`` is null, not true, when ``x`` is missing), while
:func:`memplane.filters.evaluate` does neither. Two measures make the translation
exact:

- metadata is indexed by type (see :func:`metadata_index`): a string lives under
  ``meta_idx[key]["s"]``, a number under ``["n"]``, a bool under ``["b"]``; a
  comparison only ever looks at the slot of its operand's type;
- every atom is guarded (``exists ... and ...`` / ``is not null and ...``) so it is
  true or false, never null, and ``NOT`` / ``ne`` / ``nin`` negate a definite value.

What cannot be expressed exactly raises :class:`~memplane.errors.UnsupportedFilter`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from memplane.errors import UnsupportedFilter, ValidationError
from memplane.filters import And, Cmp, Filter, Not, Or, field_path

#: always-false / always-true expressions (ids are never empty strings).
FALSE = '(id == "")'
TRUE = '(id != "")'

DATETIME_COLUMNS = {
    "created_at": "created_at_us",
    "updated_at": "updated_at_us",
    "observed_at": "observed_at_us",
    "expires_at": "expires_at_us",
}
_ORDERED = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch; naive datetimes are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def quote(value: str) -> str:
    """A Milvus string literal that denotes exactly ``value``."""
    out = ['"']
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def literal(value: str | int | float | bool) -> str:
    """Render one scalar as an expression literal (strings escaped, numbers finite)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnsupportedFilter("Milvus filters cannot compare with NaN or infinity")
        return repr(value)
    return quote(value)


def literal_list(values: list[Any]) -> str:
    return "[" + ", ".join(literal(v) for v in values) + "]"


@dataclass
class Binder:
    """Turns values into template placeholders or escaped literals."""

    templates: bool
    params: dict[str, Any] = field(default_factory=dict)

    def __call__(self, value: str | int | float | bool) -> str:
        if isinstance(value, float) and not math.isfinite(value):
            raise UnsupportedFilter("Milvus filters cannot compare with NaN or infinity")
        if not self.templates:
            return literal(value)
        name = f"p{len(self.params)}"
        self.params[name] = value
        return "{" + name + "}"

    def many(self, values: list[str]) -> str:
        """A list literal (``[...]``) or one template parameter holding the list."""
        if not self.templates:
            return literal_list(values)
        name = f"p{len(self.params)}"
        self.params[name] = list(values)
        return "{" + name + "}"


def metadata_index(metadata: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The typed index of a record's metadata that filters run against.

    ``None`` values are left out (the reference semantics treat them as missing).
    """
    index: dict[str, dict[str, Any]] = {}
    for key, value in metadata.items():
        if value is None:
            continue
        slots: dict[str, Any] = {"p": True}
        if isinstance(value, bool):
            slots["b"] = value
        elif isinstance(value, int | float):
            if isinstance(value, int) or math.isfinite(value):
                slots["n"] = value
        elif isinstance(value, str):
            slots["s"] = value
            stamp = _iso(value)
            if stamp is not None:
                slots["t" if stamp.tzinfo is not None else "tn"] = to_micros(stamp)
        elif isinstance(value, list):
            slots["ls"] = [v for v in value if isinstance(v, str)]
            slots["ln"] = [
                v for v in value
                if isinstance(v, int | float) and not isinstance(v, bool)
                and (isinstance(v, int) or math.isfinite(v))
            ]
            slots["lb"] = [v for v in value if isinstance(v, bool)]
        index[key] = slots
    return index


def _iso(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


class ExpressionCompiler:
    """Compiles one filter tree; create one per query (it owns the parameters)."""

    def __init__(self, *, templates: bool) -> None:
        self.bind = Binder(templates)

    @property
    def params(self) -> dict[str, Any]:
        return self.bind.params

    def compile(self, node: Filter) -> str:
        if isinstance(node, And):
            return "(" + " and ".join(self.compile(c) for c in node.all) + ")"
        if isinstance(node, Or):
            return "(" + " or ".join(self.compile(c) for c in node.any) + ")"
        if isinstance(node, Not):
            return f"(not {self.compile(node.not_)})"
        return self._cmp(node)

    # --- one comparison -------------------------------------------------------
    def _cmp(self, node: Cmp) -> str:
        where, name = field_path(node.field)
        if node.op == "ne":
            return f"(not {self._cmp(Cmp(op='eq', field=node.field, value=node.value))})"
        if node.op == "nin":
            return f"(not {self._cmp(Cmp(op='in', field=node.field, value=node.value))})"
        if node.op == "in":
            parts = [self._cmp(Cmp(op="eq", field=node.field, value=v)) for v in node.value]
            parts = [p for p in parts if p != FALSE]
            return "(" + " or ".join(parts) + ")" if parts else FALSE
        if where == "record" and name in DATETIME_COLUMNS:
            return self._datetime_column(DATETIME_COLUMNS[name], node)
        if where == "record":
            return self._string_column(name, node)
        return self._metadata(name, node)

    def _guard_column(self, column: str, op: str, value: Any) -> str:
        return f"({column} is not null and {column} {op} {self.bind(value)})"

    def _datetime_column(self, column: str, node: Cmp) -> str:
        op, value = node.op, node.value
        if op == "exists":
            return f"({column} is {'not ' if value else ''}null)"
        if op == "contains":
            return FALSE  # a datetime is never a list
        if op == "eq":
            if not isinstance(value, datetime):
                return FALSE  # a datetime never equals a string or number
            return self._guard_column(column, "==", to_micros(_aware(value, node.field)))
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise ValidationError(
                    f"filter on {node.field!r}: {value!r} is not an ISO 8601 datetime"
                ) from None
        if not isinstance(value, datetime):
            return FALSE  # ordered comparison of a datetime with a number/bool is false
        return self._guard_column(column, _ORDERED[op], to_micros(_aware(value, node.field)))

    def _string_column(self, column: str, node: Cmp) -> str:
        op, value = node.op, node.value
        if op == "exists":
            return f"({column} is {'not ' if value else ''}null)"
        if op == "contains":
            return FALSE
        if op == "eq":
            if not isinstance(value, str):
                return FALSE
            return self._guard_column(column, "==", value)
        if isinstance(value, datetime):
            raise UnsupportedFilter(
                f"the milvus store cannot compare {node.field!r} with a datetime; "
                f"pass an ISO 8601 string to compare as text"
            )
        if not isinstance(value, str):
            return FALSE
        return self._guard_column(column, _ORDERED[op], value)

    def _metadata(self, key: str, node: Cmp) -> str:
        op, value = node.op, node.value
        path = f"meta_idx[{quote(key)}]"
        if op == "exists":
            return f"({'' if value else 'not '}exists {path})"
        if isinstance(value, list | dict | tuple | set):
            raise UnsupportedFilter(
                f"the milvus store cannot compare metadata {key!r} with a list or object "
                f"({op!r}); compare with a single string, number or bool"
            )
        if op == "contains":
            slot = _list_slot(value)
            if slot is None:
                return FALSE
            needle = self.bind(value)
            if needle.startswith("-"):  # the parser takes no unary minus as a function argument
                needle = f"({needle})"
            return f"(exists {path}[{quote(slot)}] and json_contains({path}[{quote(slot)}], {needle}))"
        if op == "eq":
            slot = _scalar_slot(value)
            if slot is None:
                return FALSE  # metadata (JSON) never equals a datetime or null
            return self._guard_path(f"{path}[{quote(slot)}]", "==", value)
        # ordered comparisons
        if isinstance(value, bool) or value is None:
            return FALSE
        if isinstance(value, datetime):
            slot = "t" if value.tzinfo is not None else "tn"
            return self._guard_path(f"{path}[{quote(slot)}]", _ORDERED[op], to_micros(value))
        slot = _scalar_slot(value)
        if slot is None:
            return FALSE
        return self._guard_path(f"{path}[{quote(slot)}]", _ORDERED[op], value)

    def _guard_path(self, path: str, op: str, value: Any) -> str:
        return f"(exists {path} and {path} {op} {self.bind(value)})"


def _aware(value: datetime, field_name: str) -> datetime:
    if value.tzinfo is None:
        raise UnsupportedFilter(
            f"filter on {field_name!r} uses a naive datetime; the milvus store compares "
            f"timestamps as instants, so pass a timezone-aware datetime (e.g. UTC)"
        )
    return value


def _scalar_slot(value: Any) -> str | None:
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int | float):
        return "n"
    if isinstance(value, str):
        return "s"
    return None


def _list_slot(value: Any) -> str | None:
    slot = _scalar_slot(value)
    return None if slot is None else "l" + slot


def inline_params(expr: str, params: dict[str, Any]) -> str:
    """Substitute template parameters by escaped literals (for calls without templates).

    Scans the expression once and leaves string literals alone, so a value or key that
    looks like ``{p1}`` is never mistaken for a placeholder.
    """
    out: list[str] = []
    i, n = 0, len(expr)
    while i < n:
        ch = expr[i]
        if ch in "\"'":
            j = i + 1
            while j < n and expr[j] != ch:
                j += 2 if expr[j] == "\\" else 1
            out.append(expr[i:j + 1])
            i = j + 1
        elif ch == "{":
            j = expr.index("}", i)
            value = params[expr[i + 1:j]]
            out.append(literal_list(value) if isinstance(value, list) else literal(value))
            i = j + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def compile_filter(node: Filter | None, *, templates: bool) -> tuple[str, dict[str, Any]]:
    """The expression and its template parameters (empty without templates)."""
    compiler = ExpressionCompiler(templates=templates)
    return (TRUE if node is None else compiler.compile(node)), compiler.params
