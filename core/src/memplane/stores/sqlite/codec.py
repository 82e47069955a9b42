"""Conversion between models and SQLite rows: datetimes, JSON columns, vectors."""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pydantic import TypeAdapter
from pydantic_core import to_jsonable_python

from memplane.errors import ValidationError
from memplane.models import HistoryEvent, MemoryRecord, Provenance, Scope

RECORD_COLUMNS = (
    "id, user_id, agent_id, run_id, text, metadata, hash, created_at, updated_at, "
    "observed_at, deleted_at, expires_at, source, attributed_to, version"
)


_UTC_FORMAT = "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00"


def dt_to_db(value: datetime | None) -> str | None:
    """UTC, fixed-width ISO 8601 with microseconds: text order is time order.
    Naive datetimes are taken to be UTC."""
    if value is None:
        return None
    if value.tzinfo is UTC:  # most values (utcnow): no conversion, and %-formatting is
        # a quarter faster than isoformat (three times a row in bulk writes); same text
        return _UTC_FORMAT % (value.year, value.month, value.day, value.hour, value.minute,
                              value.second, value.microsecond)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def dt_from_db(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def to_json(value: Any, what: str) -> str:
    """Compact JSON; NaN/Infinity and unserialisable values are input errors."""
    if type(value) is dict and not value:  # most memories: no metadata, no sources
        return "{}"
    if type(value) is list and not value:
        return "[]"
    try:
        text = json.dumps(
            to_jsonable_python(value), allow_nan=False, ensure_ascii=False, separators=(",", ":")
        )
        text.encode("utf-8")  # lone surrogates cannot be stored
        return text
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"{what} must be JSON-serialisable without NaN or Infinity ({exc}); "
            f"convert the offending value to a string or number"
        ) from None


def vector_to_blob(vector: Sequence[float], dimension: int, record_id: str) -> bytes:
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim != 1 or array.shape[0] != dimension:
        raise ValidationError(
            f"the vector of memory {record_id!r} has shape {array.shape}, the store holds "
            f"{dimension}-dimensional vectors: embed with the embedder the store was opened for"
        )
    if not bool(np.isfinite(array).all()):
        raise ValidationError(f"the vector of memory {record_id!r} contains NaN or infinity")
    return array.tobytes()


def query_vector(vector: Sequence[float], dimension: int) -> np.ndarray:
    """The query as a unit float32 vector (all zeros when it has no direction)."""
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim != 1 or array.shape[0] != dimension:
        raise ValidationError(
            f"the query vector has shape {array.shape}, the store holds {dimension}-dimensional "
            f"vectors: embed the query with the embedder the store was opened for"
        )
    if not bool(np.isfinite(array).all()):
        raise ValidationError("the query vector contains NaN or infinity")
    norm = float(np.linalg.norm(array))
    return array / norm if norm > 0.0 and math.isfinite(norm) else np.zeros_like(array)


def hash_key(hash_: str) -> int | None:
    """The 8-byte signed key the live-duplicate index holds for a hash (None for no
    hash): the first 16 hex digits of a sha-256 hex digest, or a blake2b digest of
    any other string. Only a key: the duplicate check compares full hashes."""
    if not hash_:
        return None
    try:
        raw = bytes.fromhex(hash_[:16]) if len(hash_) >= 16 else b""
    except ValueError:
        raw = b""
    if len(raw) != 8:
        raw = hashlib.blake2b(hash_.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(raw, "big", signed=True)


#: a record's pending ADD entry (schema v5), selected from ``records r``
PENDING_ADD = "r.add_id, r.add_at, r.created_at, r.add_actor, r.add_reason"


def pending_add_row(pending: Sequence[Any], memory_id: str, text: str) -> tuple[Any, ...]:
    """The history row (id, memory_id, event, old_text, new_text, at, actor, reason)
    of a pending ADD entry selected with :data:`PENDING_ADD`: the record's text is
    the entry's, since any change of the record writes the row out first."""
    add_id, add_at, created_at, actor, reason = pending
    return (add_id, memory_id, HistoryEvent.ADD.value, None, text, add_at or created_at, actor,
            reason)


def record_values(record: MemoryRecord, fts_text: str, scope_terms: str,
                  generation: int) -> tuple[Any, ...]:
    """A record's row in :data:`writes._UPSERT`'s column order (a tuple: SQLite binds
    positions faster than names, which shows in bulk writes)."""
    scope = record.scope
    created = dt_to_db(record.created_at)
    # most records are written with updated_at == created_at: format it once
    updated = created if record.updated_at == record.created_at else dt_to_db(record.updated_at)
    # the usual empty or unset fields without a call each (this runs once a row)
    metadata = record.metadata
    observed, deleted, expires = record.observed_at, record.deleted_at, record.expires_at
    return (
        record.id, scope.user_id, scope.agent_id, scope.run_id, record.text, fts_text,
        scope_terms,
        to_json(metadata, f"metadata of memory {record.id!r}") if metadata else "{}",
        record.hash, created, updated,
        None if observed is None else dt_to_db(observed),
        None if deleted is None else dt_to_db(deleted),
        None if expires is None else dt_to_db(expires),
        to_json([p.model_dump(exclude_none=True) for p in record.source],
                f"source of memory {record.id!r}") if record.source else "[]",
        record.attributed_to, generation, record.version,
    )


def record_from_row(row: Sequence[Any]) -> MemoryRecord:
    """Build a record from a row selected with :data:`RECORD_COLUMNS`.

    The row was validated when it was written, so the record is assembled without
    validating it again: a search hydrates dozens of candidates, and pydantic's
    validation (or ``model_construct``, slower still) was most of their cost. What
    this sets is what ``model_construct`` sets; a test compares the result with a
    validated record."""
    (rid, user_id, agent_id, run_id, text, metadata, hash_, created, updated,
     observed, deleted, expires, source, attributed_to, version) = row
    created_at = datetime.fromisoformat(created)
    record = _NEW_RECORD(MemoryRecord)
    _SET(record, "__dict__", {
        "id": rid,
        "text": text,
        "scope": _scope(user_id, agent_id, run_id),
        "metadata": {} if metadata == "{}" else json.loads(metadata),
        "hash": hash_,
        "created_at": created_at,
        "updated_at": created_at if updated == created else datetime.fromisoformat(updated),
        "observed_at": dt_from_db(observed),
        "deleted_at": dt_from_db(deleted),
        "expires_at": dt_from_db(expires),
        "source": [] if source == "[]" else _PROVENANCE.validate_json(source),
        "attributed_to": attributed_to,
        "version": version,
    })
    _SET(record, "__pydantic_fields_set__", set(_RECORD_FIELDS))
    _SET(record, "__pydantic_extra__", None)
    _SET(record, "__pydantic_private__", None)
    return record


_NEW_RECORD = MemoryRecord.__new__
_SET = object.__setattr__
_RECORD_FIELDS = frozenset(MemoryRecord.model_fields)
_PROVENANCE: TypeAdapter[list[Provenance]] = TypeAdapter(list[Provenance])


@functools.lru_cache(maxsize=4096)
def _scope(user_id: str | None, agent_id: str | None, run_id: str | None) -> Scope:
    # scopes are immutable: the rows of one scope share one instance
    return Scope(user_id=user_id, agent_id=agent_id, run_id=run_id)
