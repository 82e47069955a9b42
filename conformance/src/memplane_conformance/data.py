"""Records, vectors and changes the suites build their fixtures from."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from memplane.models import Change, HistoryEntry, HistoryEvent, MemoryRecord, Scope

#: vector size used by the store suite (small, so any backend accepts it).
DIM = 8

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def basis(i: int, dim: int = DIM) -> list[float]:
    """The unit vector along axis ``i`` (cosine 0 with every other axis)."""
    vector = [0.0] * dim
    vector[i % dim] = 1.0
    return vector


def random_unit(seed: int, dim: int = DIM) -> list[float]:
    rng = random.Random(seed)
    raw = [rng.uniform(-1.0, 1.0) for _ in range(dim)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def record(
    text: str,
    scope: Scope,
    *,
    id: str | None = None,
    metadata: dict[str, Any] | None = None,
    minutes: int = 0,
    **fields: Any,
) -> MemoryRecord:
    """A record with deterministic timestamps ``minutes`` after :data:`EPOCH`."""
    at = EPOCH + timedelta(minutes=minutes)
    values: dict[str, Any] = {"created_at": at, "updated_at": at, **fields}
    if id is not None:
        values["id"] = id
    return MemoryRecord(text=text, scope=scope, metadata=metadata or {}, **values)


def add_change(rec: MemoryRecord, vector: Sequence[float] | None) -> Change:
    return Change(
        record=rec,
        vector=list(vector) if vector is not None else None,
        history=HistoryEntry(memory_id=rec.id, event=HistoryEvent.ADD, new_text=rec.text,
                             at=rec.created_at),
    )


def update_change(
    old: MemoryRecord, new_text: str, vector: Sequence[float] | None, *, minutes: int = 1
) -> Change:
    at = old.updated_at + timedelta(minutes=minutes)
    new = old.model_copy(update={"text": new_text, "hash": "", "updated_at": at,
                                 "version": old.version + 1})
    new = MemoryRecord.model_validate(new.model_dump())  # recompute the hash
    return Change(
        record=new,
        vector=list(vector) if vector is not None else None,
        history=HistoryEntry(memory_id=old.id, event=HistoryEvent.UPDATE, old_text=old.text,
                             new_text=new_text, at=at),
        expected_version=old.version,
    )


def soft_delete_change(old: MemoryRecord, *, minutes: int = 2) -> Change:
    at = old.updated_at + timedelta(minutes=minutes)
    new = old.model_copy(update={"deleted_at": at, "updated_at": at, "version": old.version + 1})
    return Change(
        record=new,
        vector=None,
        history=HistoryEntry(memory_id=old.id, event=HistoryEvent.DELETE, old_text=old.text, at=at),
        expected_version=old.version,
    )


def restore_change(old: MemoryRecord, *, minutes: int = 3) -> Change:
    at = old.updated_at + timedelta(minutes=minutes)
    new = old.model_copy(update={"deleted_at": None, "updated_at": at, "version": old.version + 1})
    return Change(
        record=new,
        vector=None,
        history=HistoryEntry(memory_id=old.id, event=HistoryEvent.RESTORE, new_text=old.text, at=at),
        expected_version=old.version,
    )


#: scope ids chosen to break naive query building, escaping and normalisation.
HOSTILE_IDS: tuple[str, ...] = (
    "alice",
    "Alice",  # case must matter
    "alice2",  # a prefix of nothing, but alice is a prefix of it
    "al%",  # LIKE wildcards
    "al_ce",
    "*",
    "' OR '1'='1",
    '" OR ""="',
    "a\\'b",
    "back\\\\slash\\",
    "line\nbreak",
    '{"$ne": null}',
    "user_id != ''",
    "$gt",
    "../../etc/passwd",
    "caf\u00e9",  # NFC
    "cafe\u0301",  # NFD: looks the same, is a different id
    "\u30e6\u30fc\u30b6\u30fc",
    "\U0001f642 emoji",
    "\u05e9\u05dc\u05d5\u05dd rtl",
    " padded ",
    "x" * 4096,
)
