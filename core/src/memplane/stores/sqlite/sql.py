"""Small SQL builders the SQLite store's modules share."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from memplane.models import Scope, utcnow
from memplane.stores.sqlite.codec import RECORD_COLUMNS, dt_to_db

CHUNK = 500  # ids per IN (...) list, well under SQLite's parameter limit
COLUMNS = ", ".join(f"r.{c.strip()}" for c in RECORD_COLUMNS.split(","))
_T = TypeVar("_T")


def scope_sql(scope: Scope, alias: str = "r") -> tuple[str, list[Any]]:
    items = scope.items()
    if not items:
        return "1", []
    return " AND ".join(f"{alias}.{name} = ?" for name, _ in items), [v for _, v in items]


def exact_scope_sql(scope: Scope, alias: str = "r") -> tuple[str, list[Any]]:
    """Exactly this scope: unset ids must be unset on the row too."""
    parts, params = [], []
    for name in ("user_id", "agent_id", "run_id"):
        value = getattr(scope, name)
        if value is None:
            parts.append(f"{alias}.{name} IS NULL")
        else:
            parts.append(f"{alias}.{name} = ?")
            params.append(value)
    return " AND ".join(parts), params


def visibility_sql(include_deleted: bool, include_expired: bool,
                   alias: str = "r") -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    if not include_deleted:
        parts.append(f"{alias}.deleted_at IS NULL")
    if not include_expired:
        parts.append(f"({alias}.expires_at IS NULL OR {alias}.expires_at > ?)")
        params.append(dt_to_db(utcnow()))
    return (" AND ".join(parts) or "1"), params


def chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def marks(n: int) -> str:
    return ", ".join("?" * n)
