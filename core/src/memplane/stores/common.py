"""Argument checks and history bookkeeping that vector stores share.

Stores call these instead of repeating them, so bad input gets the same typed
:class:`~memplane.errors.ValidationError` and message from every backend, and a
batch is refused before anything is written.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from memplane.errors import ValidationError
from memplane.models import Change


def check_dimension(dimension: object) -> int:
    """The ``dimension`` given to ``open``, if it is a positive integer."""
    if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 1:
        raise ValidationError(f"vector dimension must be a positive integer, got {dimension!r}")
    return dimension


def check_change(change: Change, dimension: int | None) -> None:
    """A change a store may write: its record has a scope, its vector (if any) has
    ``dimension`` finite values (length unchecked when ``dimension`` is None), its
    metadata no NaN or infinity (:func:`check_metadata`), and its history entry
    belongs to its record."""
    record = change.record
    record.scope.require("apply")
    if change.vector is not None:
        if dimension is not None and len(change.vector) != dimension:
            raise ValidationError(
                f"memory {record.id!r} has a {len(change.vector)}-dimensional vector but the "
                f"store holds {dimension}-dimensional ones"
            )
        if not all(math.isfinite(x) for x in change.vector):
            raise ValidationError(
                f"memory {record.id!r} has a vector with NaN or infinite values; "
                f"check the embedder's output"
            )
    check_metadata(record.id, record.metadata)
    if change.history is not None and change.history.memory_id != record.id:
        raise ValidationError(
            f"history entry for {change.history.memory_id!r} attached to memory {record.id!r}"
        )


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def check_metadata(record_id: str, metadata: Any, *, int64: bool = False) -> None:
    """Metadata every store can keep as it was given: no NaN or infinite number
    anywhere in it (JSON has none; stores used to turn them into null silently while
    SQLite refused them), and with ``int64`` no integer beyond 64 bits (for stores
    whose JSON type is 64-bit, e.g. Milvus, where the server's refusal would come
    back as a retryable error although it is permanent)."""
    stack: list[tuple[str, Any]] = [("metadata", metadata)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError(
                f"memory {record_id!r}: {path} is {value}; JSON has no NaN or infinity, so "
                f"no store can keep it: use null or a string"
            )
        if (int64 and isinstance(value, int) and not isinstance(value, bool)
                and not INT64_MIN <= value <= INT64_MAX):
            raise ValidationError(
                f"memory {record_id!r}: {path} is an integer beyond 64 bits, which this "
                f"store cannot keep; store it as a string"
            )
        if isinstance(value, dict):
            stack.extend((f"{path}[{key!r}]", item) for key, item in value.items())
        elif isinstance(value, list | tuple):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))


def check_query_vector(vector: Sequence[float], dimension: int | None) -> None:
    """A search vector of the store's dimension with finite values."""
    if len(vector) != dimension:
        raise ValidationError(
            f"query vector has {len(vector)} dimensions; the store holds {dimension}"
        )
    if not all(math.isfinite(x) for x in vector):
        raise ValidationError("the query vector has NaN or infinite values")


def check_page_limit(limit: int) -> None:
    """A ``list_records`` page size of at least one."""
    if limit < 1:
        raise ValidationError(f"limit must be at least 1, got {limit}")


def vector_to_write(change: Change, stored: Sequence[float] | None) -> list[float]:
    """The change's vector, or the stored one it keeps (``vector=None``); a new
    record must bring its own."""
    vector = change.vector if change.vector is not None else stored
    if vector is None:
        raise ValidationError(f"memory {change.record.id!r} is new, so its change needs a vector")
    return [float(x) for x in vector]


def history_to_write(stored: Sequence[dict[str, Any]], change: Change) -> list[dict[str, Any]]:
    """A record's history as JSON-ready dicts: the stored entries plus the change's own."""
    history = list(stored)
    if change.history is not None:
        history.append(change.history.model_dump(mode="json"))
    return history


def parse_prefixed_cursor(cursor: str | None, prefix: str) -> str | None:
    """The position inside a ``next_cursor`` this store made (``prefix`` + position)."""
    if cursor is None:
        return None
    if not isinstance(cursor, str) or not cursor.startswith(prefix):
        raise ValidationError(
            f"invalid cursor {cursor!r}: pass back the next_cursor of a previous page"
        )
    return cursor[len(prefix):]
