"""The direct operations (get, list, update, delete, restore, history, delete_all)
as flows, shared by :class:`~memplane.memory.Memory` and
:class:`~memplane.async_memory.AsyncMemory`.

Every store call carries the caller's scope, and every record a store returns is
checked against it again here: an id from another scope is
:class:`~memplane.errors.MemoryNotFound`, never a result.

Writes are compare-and-set (contract v2): each change expects the version it read.
When another writer got there first the store raises Conflict and writes nothing;
these flows then re-read and decide again (an update of a memory deleted meanwhile
becomes MemoryNotFound, never a resurrection), at most ``CONFLICT_RETRIES`` times.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from memplane.errors import Conflict, IncompleteOperation, MemoryNotFound, ValidationError
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
from memplane.pipeline import calls
from memplane.pipeline.effects import Flow

API_ACTOR = "api"
#: delete_all reads pages of this many records (and, on a store without
#: atomic_apply, applies each page separately).
DELETE_ALL_BATCH = 500
#: how often a direct write re-reads and retries after a Conflict before raising it.
CONFLICT_RETRIES = 3


def changed(record: MemoryRecord, history: HistoryEntry, vector: list[float] | None = None,
            **update: Any) -> Change:
    """A compare-and-set change of ``record`` as read: the next version, expecting this one."""
    return Change(
        record=record.model_copy(update={**update, "version": record.version + 1}),
        vector=vector, history=history, expected_version=record.version,
    )


def fetch_flow(
    memory_id: str, scope: Scope, now: datetime, *, include_deleted: bool = False,
    include_expired: bool = False,
) -> Flow[MemoryRecord]:
    """The record, or MemoryNotFound saying why it is not visible."""
    if not isinstance(memory_id, str) or not memory_id:
        raise ValidationError("memory ids are non-empty strings")
    records = yield from calls.get([memory_id], scope, include_deleted=True)
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
    page = yield from calls.list_records(scope, filters=filters, limit=limit, cursor=cursor,
                                         include_deleted=include_deleted,
                                         include_expired=include_expired)
    return Page(records=[r for r in page.records if scope.matches(r.scope)], next_cursor=page.next_cursor)


def update_flow(
    memory_id: str, text: str, scope: Scope, now: datetime, metadata: dict[str, Any] | None
) -> Flow[MemoryEvent]:
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("update needs a non-empty text")
    text = text.strip()
    vector: list[float] | None = None
    for attempt in range(CONFLICT_RETRIES + 1):
        record = yield from fetch_flow(memory_id, scope, now, include_expired=True)
        if text_hash(text) == record.hash and not metadata:
            return MemoryEvent(event="NONE", id=record.id, text=record.text, scope=record.scope)
        if vector is None:
            [vector] = yield from calls.embed([text], "document")
        history = HistoryEntry(memory_id=record.id, event=HistoryEvent.UPDATE, old_text=record.text,
                               new_text=text, at=now, actor=API_ACTOR)
        change = changed(record, history, vector, text=text, hash=text_hash(text), updated_at=now,
                         metadata={**record.metadata, **(metadata or {})})
        if (yield from _applied([change], attempt)):
            return MemoryEvent(event="UPDATE", id=record.id, text=text, previous_text=record.text,
                               scope=record.scope)
    raise AssertionError("unreachable")  # pragma: no cover - _applied raises on the last attempt


def _applied(changes: list[Change], attempt: int) -> Flow[bool]:
    """Apply; False after a Conflict that leaves retries, the Conflict on the last one."""
    try:
        yield from calls.apply(changes)
    except Conflict:
        if attempt >= CONFLICT_RETRIES:
            raise
        return False
    return True


def _soft_delete(record: MemoryRecord, now: datetime, reason: str | None = None) -> Change:
    history = HistoryEntry(memory_id=record.id, event=HistoryEvent.DELETE, old_text=record.text,
                           at=now, actor=API_ACTOR, reason=reason)
    return changed(record, history, deleted_at=now, updated_at=now)


def delete_flow(memory_id: str, scope: Scope, now: datetime) -> Flow[MemoryEvent]:
    for attempt in range(CONFLICT_RETRIES + 1):
        record = yield from fetch_flow(memory_id, scope, now, include_expired=True)
        if (yield from _applied([_soft_delete(record, now)], attempt)):
            return MemoryEvent(event="DELETE", id=record.id, text=record.text,
                               previous_text=record.text, scope=record.scope)
    raise AssertionError("unreachable")  # pragma: no cover - _applied raises on the last attempt


def restore_flow(memory_id: str, scope: Scope, now: datetime) -> Flow[MemoryRecord]:
    """Undo a soft delete. Restoring a memory that is not deleted changes nothing."""
    for attempt in range(CONFLICT_RETRIES + 1):
        record = yield from fetch_flow(memory_id, scope, now, include_deleted=True,
                                       include_expired=True)
        if record.deleted_at is None:
            return record
        history = HistoryEntry(memory_id=record.id, event=HistoryEvent.RESTORE,
                               new_text=record.text, at=now, actor=API_ACTOR)
        change = changed(record, history, deleted_at=None, updated_at=now)
        if (yield from _applied([change], attempt)):
            return change.record
    raise AssertionError("unreachable")  # pragma: no cover - _applied raises on the last attempt


def history_flow(memory_id: str, scope: Scope, now: datetime) -> Flow[list[HistoryEntry]]:
    yield from fetch_flow(memory_id, scope, now, include_deleted=True, include_expired=True)
    entries = yield from calls.history(memory_id, scope)
    return [e for e in entries if e.memory_id == memory_id]


def delete_all_flow(scope: Scope, now: datetime, *, atomic: bool = False) -> Flow[list[MemoryEvent]]:
    """Soft-delete every visible memory of the scope (and only of that scope).

    With an ``atomic`` store (``atomic_apply``) every change lands in ONE apply: a
    crash leaves the scope untouched, never half deleted. Otherwise pages are applied
    one by one and a failure raises :class:`IncompleteOperation` saying how far it
    got; running delete_all again resumes (deleted memories are skipped). Pages are
    walked by cursor over deleted ones too, so a memory restored concurrently is not
    mistaken for a store that failed to hide it.

    Each change expects the version read in the same pass (contract v2). A
    :class:`Conflict` (another client changed a memory meanwhile; nothing of that
    apply was written) re-reads: the whole scope on an atomic store, the page
    elsewhere, up to ``CONFLICT_RETRIES`` times; then the Conflict is raised (atomic:
    nothing deleted) or reported as :class:`IncompleteOperation`.
    """
    scope.require("delete_all")
    if atomic:
        for attempt in range(CONFLICT_RETRIES + 1):
            staged: list[MemoryRecord] = []
            cursor: str | None = None
            while True:
                page = yield from _delete_all_page(scope, cursor)
                staged.extend(_live(page, scope))
                cursor = page.next_cursor
                if cursor is None:
                    break
            if staged:
                try:
                    yield from calls.apply([_soft_delete(r, now, "delete_all") for r in staged])
                except Conflict:
                    if attempt == CONFLICT_RETRIES:
                        raise
                    continue
            return [_deleted_event(r) for r in staged]
        raise AssertionError("unreachable")  # pragma: no cover
    events: list[MemoryEvent] = []
    cursor = None
    while True:
        for attempt in range(CONFLICT_RETRIES + 1):
            page = yield from _delete_all_page(scope, cursor)
            batch = _live(page, scope)
            if not batch:
                break
            try:
                yield from calls.apply([_soft_delete(r, now, "delete_all") for r in batch])
                break
            except Conflict as exc:
                if attempt < CONFLICT_RETRIES:
                    continue  # nothing of the page was written: read it again
                raise _incomplete(scope, events, exc) from exc
            except Exception as exc:
                raise _incomplete(scope, events, exc) from exc
        events.extend(_deleted_event(r) for r in batch)
        cursor = page.next_cursor
        if cursor is None:
            return events


def _delete_all_page(scope: Scope, cursor: str | None) -> Flow[Page]:
    page = yield from calls.list_records(scope, limit=DELETE_ALL_BATCH, cursor=cursor,
                                         include_deleted=True, include_expired=True)
    return page


def _live(page: Page, scope: Scope) -> list[MemoryRecord]:
    return [r for r in page.records if scope.matches(r.scope) and r.deleted_at is None]


def _deleted_event(record: MemoryRecord) -> MemoryEvent:
    return MemoryEvent(event="DELETE", id=record.id, text=record.text,
                       previous_text=record.text, scope=record.scope)


def _incomplete(scope: Scope, events: list[MemoryEvent], exc: Exception) -> IncompleteOperation:
    return IncompleteOperation(
        f"delete_all stopped after soft-deleting {len(events)} memories of scope "
        f"{dict(scope.items())} ({type(exc).__name__}: {exc}); the rest are untouched: "
        "run delete_all again to finish",
        done=len(events),
    )
