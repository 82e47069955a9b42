"""Argument checks and the contract-v2 write checks every vector store shares.

The :class:`~memplane.providers.base.VectorStore` base class runs the argument
checks before any provider hook, so bad input gets the same typed
:class:`~memplane.errors.ValidationError` and message from every backend.
:func:`check_versions` is the compare-and-set rule stores call inside their write
lock or transaction, with what they have stored for the batch's ids.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from memplane.errors import (
    Conflict,
    DuplicateMemory,
    IdOwnedByAnotherScope,
    ValidationError,
)
from memplane.models import Change, MemoryRecord, Scope


def check_dimension(dimension: object) -> int:
    """The ``dimension`` given to ``open``, if it is a positive integer."""
    if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 1:
        raise ValidationError(f"vector dimension must be a positive integer, got {dimension!r}")
    return dimension


def check_change(change: Change, dimension: int | None) -> None:
    """A change a store may write: its record has a scope, its vector (if any) has
    ``dimension`` finite values (length unchecked when ``dimension`` is None), its
    metadata no NaN or infinity (:func:`check_metadata`), its history entry belongs
    to its record, and its version follows the expected one."""
    record = change.record
    record.scope.require("apply")
    if change.vector is not None:
        if dimension is not None and len(change.vector) != dimension:
            raise ValidationError(
                f"memory {record.id!r} has a {len(change.vector)}-dimensional vector but the "
                f"store holds {dimension}-dimensional ones"
            )
        if not _finite(change.vector):
            raise ValidationError(
                f"memory {record.id!r} has a vector with NaN or infinite values; "
                f"check the embedder's output"
            )
    check_metadata(record.id, record.metadata)
    if change.history is not None and change.history.memory_id != record.id:
        raise ValidationError(
            f"history entry for {change.history.memory_id!r} attached to memory {record.id!r}"
        )
    wanted = 1 if change.expected_version is None else change.expected_version + 1
    if record.version != wanted:
        raise ValidationError(
            f"memory {record.id!r} carries version {record.version} but a change "
            f"expecting {change.expected_version} must write version {wanted}"
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


def check_batch(changes: Sequence[Change], dimension: int | None) -> None:
    """Every change of a batch, and no id twice (one version check per id and batch)."""
    seen: set[str] = set()
    for change in changes:
        check_change(change, dimension)
        if change.record.id in seen:
            raise ValidationError(
                f"memory {change.record.id!r} appears twice in one apply; send one change per id"
            )
        seen.add(change.record.id)


def scope_key(scope: Scope) -> tuple[str | None, str | None, str | None]:
    """Exact scope identity (hash uniqueness and ownership compare whole scopes)."""
    return scope.user_id, scope.agent_id, scope.run_id


def check_versions(
    changes: Sequence[Change],
    stored: Mapping[str, MemoryRecord],
    live_hash_owner: Callable[[Scope, str], str | None],
) -> None:
    """The contract-v2 rule for one batch, run before anything is written.

    ``stored`` holds the current record of every id of the batch that exists, in any
    scope, deleted or not; ``live_hash_owner(scope, hash)`` names a live record of
    exactly that scope with that hash (or None). Raises IdOwnedByAnotherScope,
    Conflict or DuplicateMemory for the first change that may not be written.
    """
    creating: dict[tuple[Any, ...], str] = {}
    for change in changes:
        record = change.record
        current = stored.get(record.id)
        if current is not None and scope_key(current.scope) != scope_key(record.scope):
            raise IdOwnedByAnotherScope(record.id)
        if change.expected_version is None:
            if current is not None:
                raise Conflict(
                    f"memory {record.id!r} already exists (version {current.version}); "
                    f"nothing was written: re-read the memory and retry as an update",
                    memory_id=record.id, expected=None, actual=current.version,
                )
            if record.deleted_at is None and record.hash:
                key = (*scope_key(record.scope), record.hash)
                owner = creating.get(key) or live_hash_owner(record.scope, record.hash)
                if owner is not None:
                    raise DuplicateMemory(memory_id=record.id, existing_id=owner)
                creating[key] = record.id
        elif current is None or current.version != change.expected_version:
            raise Conflict(
                memory_id=record.id, expected=change.expected_version,
                actual=None if current is None else current.version,
            )


def check_query_vector(vector: Sequence[float], dimension: int | None) -> None:
    """A search vector of the store's dimension (when known) with finite values."""
    if dimension is not None and len(vector) != dimension:
        raise ValidationError(
            f"query vector has {len(vector)} dimensions; the store holds {dimension}"
        )
    if not _finite(vector):
        raise ValidationError("the query vector has NaN or infinite values")


def _finite(vector: Sequence[float]) -> bool:
    """No NaN or infinity. A finite sum proves it in one C loop (a NaN or infinity
    would make the sum non-finite); only a non-finite sum needs the element check."""
    return math.isfinite(sum(vector)) or all(math.isfinite(x) for x in vector)


def check_limit(limit: object, what: str = "limit") -> int:
    """A page or result size of at least one."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError(f"{what} must be a positive integer, got {limit!r}")
    return limit


def check_page_limit(limit: int) -> None:
    """A ``list_records`` page size of at least one."""
    check_limit(limit)


def check_cursor(cursor: object) -> str | None:
    if cursor is not None and not isinstance(cursor, str):
        raise ValidationError(
            f"invalid cursor {cursor!r}: pass back the next_cursor of a previous page"
        )
    return cursor


#: store info is a handful of short entries (the embedder's identity), not a data store.
MAX_INFO_KEY, MAX_INFO_VALUE = 64, 4096


def check_info_key(key: object) -> str:
    """A store-info key: 1 to 64 characters of ASCII letters, digits, ``_ . -``."""
    if (not isinstance(key, str) or not 0 < len(key) <= MAX_INFO_KEY or not key.isascii()
            or not all(c.isalnum() or c in "_.-" for c in key)):
        raise ValidationError(
            f"store-info keys are 1 to {MAX_INFO_KEY} ASCII letters, digits, '_', '.' or '-'; "
            f"got {key!r}"
        )
    return key


def check_info_value(value: object) -> str:
    """A store-info value: a string of at most 4096 characters, valid Unicode."""
    if not isinstance(value, str) or len(value) > MAX_INFO_VALUE:
        raise ValidationError(f"store-info values are strings of at most {MAX_INFO_VALUE} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("store-info values must be valid Unicode (no lone surrogates)") from None
    return value


def check_ids(ids: object) -> list[str]:
    """A list of ids, each a non-empty string, duplicates removed (order kept)."""
    if isinstance(ids, str) or not isinstance(ids, Sequence):
        raise ValidationError("ids must be a list of strings")
    for i in ids:
        if not isinstance(i, str) or not i:
            raise ValidationError(f"memory ids are non-empty strings, got {i!r}")
    return list(dict.fromkeys(ids))


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
