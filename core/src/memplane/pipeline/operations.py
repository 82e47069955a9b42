"""The direct operations (get, list, update, delete, restore, history, delete_all)
as flows, shared by :class:`~memplane.memory.Memory` and
:class:`~memplane.async_memory.AsyncMemory`.

Every store call carries the caller's scope, and every record a store returns is
checked against it again here: an id from another scope is
:class:`~memplane.errors.MemoryNotFound`, never a result.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from memplane.errors import IncompleteOperation, MemoryNotFound, ValidationError
from memplane.filters import Filter
from memplane.models import (
    Change,
    HistoryEntry,
    HistoryEvent,
    MemoryEvent,
    MemoryRecord,
    Page,
    Scope,
    text_hash,
)
from memplane.pipeline.effects import Call, Flow

API_ACTOR = "api"
#: delete_all reads pages of this many records (and, on a store without
#: atomic_apply, applies each page separately).
DELETE_ALL_BATCH = 500


def fetch_flow(
    memory_id: str, scope: Scope, now: datetime, *, include_deleted: bool = False,
    include_expired: bool = False,
) -> Flow[MemoryRecord]:
    """The record, or MemoryNotFound saying why it is not visible."""
    if not isinstance(memory_id, str) or not memory_id:
        raise ValidationError("memory ids are non-empty strings")
    records: list[MemoryRecord] = yield Call(
        "vector_stores", "get", ([memory_id], scope), {"include_deleted": True}
    )
    record = next((r for r in records if r.id == memory_id and scope.matches(r.scope)), None)
    if record is None:
        raise MemoryNotFound(f"no memory {memory_id!r} in scope {dict(scope.items())}")
    if record.deleted_at is not None and not include_deleted:
        raise MemoryNotFound(
            f"memory {memory_id!r} is deleted; restore it first (or pass include_deleted=True)"
        )
    if not include_expired and not record.is_visible(now, include_deleted=True):
        raise MemoryNotFound(
            f"memory {memory_id!r} expired at {record.expires_at}; pass include_expired=True"
        )
    return record


def list_flow(
    scope: Scope, *, filters: Filter | None, limit: int, cursor: str | None,
    include_deleted: bool, include_expired: bool,
) -> Flow[Page]:
    if limit <= 0:
        raise ValidationError("limit must be a positive integer")
    page: Page = yield Call(
        "vector_stores", "list_records", (scope,),
        {"filters": filters, "limit": limit, "cursor": cursor,
         "include_deleted": include_deleted, "include_expired": include_expired},
    )
    return Page(records=[r for r in page.records if scope.matches(r.scope)], next_cursor=page.next_cursor)


def update_flow(
    memory_id: str, text: str, scope: Scope, now: datetime, metadata: dict[str, Any] | None
) -> Flow[MemoryEvent]:
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("update needs a non-empty text")
    text = text.strip()
    record = yield from fetch_flow(memory_id, scope, now, include_expired=True)
    if text_hash(text) == record.hash and not metadata:
        return MemoryEvent(event="NONE", id=record.id, text=record.text, scope=record.scope)
    vectors = yield Call("embedders", "embed", ([text],), {"purpose": "document"})
    updated = record.model_copy(update={
        "text": text, "hash": text_hash(text), "updated_at": now,
        "metadata": {**record.metadata, **(metadata or {})},
    })
    history = HistoryEntry(memory_id=record.id, event=HistoryEvent.UPDATE, old_text=record.text,
                           new_text=text, at=now, actor=API_ACTOR)
    yield Call("vector_stores", "apply", ([Change(record=updated, vector=list(vectors[0]), history=history)],))
    return MemoryEvent(event="UPDATE", id=record.id, text=text, previous_text=record.text, scope=record.scope)


def _soft_delete(record: MemoryRecord, now: datetime, reason: str | None = None) -> Change:
    return Change(
        record=record.model_copy(update={"deleted_at": now, "updated_at": now}),
        history=HistoryEntry(memory_id=record.id, event=HistoryEvent.DELETE, old_text=record.text,
                             at=now, actor=API_ACTOR, reason=reason),
    )


def delete_flow(memory_id: str, scope: Scope, now: datetime) -> Flow[MemoryEvent]:
    record = yield from fetch_flow(memory_id, scope, now, include_expired=True)
    yield Call("vector_stores", "apply", ([_soft_delete(record, now)],))
    return MemoryEvent(event="DELETE", id=record.id, text=record.text, previous_text=record.text, scope=record.scope)


def restore_flow(memory_id: str, scope: Scope, now: datetime) -> Flow[MemoryRecord]:
    """Undo a soft delete. Restoring a memory that is not deleted changes nothing."""
    record = yield from fetch_flow(memory_id, scope, now, include_deleted=True, include_expired=True)
    if record.deleted_at is None:
        return record
    restored = record.model_copy(update={"deleted_at": None, "updated_at": now})
    history = HistoryEntry(memory_id=record.id, event=HistoryEvent.RESTORE, new_text=record.text,
                           at=now, actor=API_ACTOR)
    yield Call("vector_stores", "apply", ([Change(record=restored, history=history)],))
    return restored


def history_flow(memory_id: str, scope: Scope, now: datetime) -> Flow[list[HistoryEntry]]:
    yield from fetch_flow(memory_id, scope, now, include_deleted=True, include_expired=True)
    entries: list[HistoryEntry] = yield Call("vector_stores", "history", (memory_id, scope))
    return [e for e in entries if e.memory_id == memory_id]


def delete_all_flow(scope: Scope, now: datetime, *, atomic: bool = False) -> Flow[list[MemoryEvent]]:
    """Soft-delete every visible memory of the scope (and only of that scope).

    With an ``atomic`` store (``atomic_apply``) every change lands in ONE apply: a
    crash leaves the scope untouched, never half deleted. Otherwise pages are applied
    one by one and a failure raises :class:`IncompleteOperation` saying how far it
    got; running delete_all again resumes (deleted memories are skipped). Pages are
    walked by cursor over deleted ones too, so a memory restored concurrently is not
    mistaken for a store that failed to hide it.
    """
    scope.require("delete_all")
    events: list[MemoryEvent] = []
    staged: list[Change] = []
    cursor: str | None = None
    while True:
        page: Page = yield Call(
            "vector_stores", "list_records", (scope,),
            {"limit": DELETE_ALL_BATCH, "cursor": cursor, "include_deleted": True, "include_expired": True},
        )
        batch = [r for r in page.records if scope.matches(r.scope) and r.deleted_at is None]
        changes = [_soft_delete(r, now, "delete_all") for r in batch]
        if atomic:
            staged.extend(changes)
        elif changes:
            try:
                yield Call("vector_stores", "apply", (changes,))
            except Exception as exc:
                raise IncompleteOperation(
                    f"delete_all stopped after soft-deleting {len(events)} memories of scope "
                    f"{dict(scope.items())} ({type(exc).__name__}: {exc}); the rest are untouched: "
                    "run delete_all again to finish",
                    done=len(events),
                ) from exc
        events.extend(
            MemoryEvent(event="DELETE", id=r.id, text=r.text, previous_text=r.text, scope=r.scope)
            for r in batch
        )
        cursor = page.next_cursor
        if cursor is None:
            break
    if staged:
        yield Call("vector_stores", "apply", (staged,))
    return events
