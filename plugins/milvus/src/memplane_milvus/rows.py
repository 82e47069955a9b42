"""How a memory record maps to one Milvus row, and back.

One row holds the record (``doc``, its exact JSON), the columns filters and scope
isolation run against, the vector, and the record's history (``history``, a JSON
list). Keeping the history in the record's own row makes every record change and
its history entry one row write: Milvus has no multi-row transactions, but a row
upsert lands whole or not at all.
"""

from __future__ import annotations

from typing import Any

from memplane.models import SCOPE_FIELDS, HistoryEntry, MemoryRecord, Scope
from memplane_milvus.expressions import metadata_index, to_micros

#: fields every memplane collection has (checked when attaching to one).
REQUIRED_FIELDS = frozenset(
    ["id", "vector", "text", "doc", "history", "meta_idx", *SCOPE_FIELDS,
     "created_at_us", "updated_at_us", "observed_at_us", "expires_at_us",
     "deleted_at_us", "attributed_to"]
)
#: what reads fetch (never the vector or history unless asked).
RECORD_OUTPUT = ["id", "doc"]


def record_row(
    record: MemoryRecord, vector: list[float], history: list[dict[str, Any]]
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": record.id,
        "vector": vector,
        "text": record.text,
        "doc": record.model_dump(mode="json"),
        "history": history,
        "meta_idx": metadata_index(record.metadata),
        "created_at_us": to_micros(record.created_at),
        "updated_at_us": to_micros(record.updated_at),
        "observed_at_us": _micros(record.observed_at),
        "expires_at_us": _micros(record.expires_at),
        "deleted_at_us": _micros(record.deleted_at),
        "attributed_to": record.attributed_to,
    }
    for name in SCOPE_FIELDS:
        # "" stands for "not set": scope ids are never empty, and a partition-key
        # column cannot be null.
        row[name] = getattr(record.scope, name) or ""
    return row


def _micros(value: Any) -> int | None:
    return None if value is None else to_micros(value)


def row_in_scope(row: dict[str, Any], scope: Scope) -> bool:
    """The row's scope columns hold every id the query scope sets."""
    return all(row.get(name) == value for name, value in scope.items())


def row_visible(
    row: dict[str, Any], include_deleted: bool, include_expired: bool, *, now_us: int
) -> bool:
    """What the expression ``deleted_at_us is null and (expires_at_us is null or
    expires_at_us > now)`` selects, on a row that carries both columns."""
    if not include_deleted and row.get("deleted_at_us") is not None:
        return False
    expires = row.get("expires_at_us")
    return include_expired or expires is None or expires > now_us


def row_record(row: dict[str, Any]) -> MemoryRecord:
    return MemoryRecord.model_validate(_json(row["doc"]))


def row_history(row: dict[str, Any]) -> list[HistoryEntry]:
    return [HistoryEntry.model_validate(e) for e in _json(row.get("history")) or []]


def _json(value: Any) -> Any:
    # some pymilvus versions hand JSON fields back as text
    if isinstance(value, str | bytes):
        import json

        return json.loads(value)
    return value
