"""delete_all is all-or-nothing on an atomic store, resumable elsewhere.

It used to apply pages of 500 one by one even where the store could take them in
one transaction, so a crash left a scope half deleted with nothing marking it; and
a memory restored concurrently made it raise an error blaming the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import pytest

from memplane.embedders.hashing import HashingEmbedder
from memplane.errors import IncompleteOperation
from memplane.llms.scripted import ScriptedLLM
from memplane.memory import Memory
from memplane.models import Change, Page, Scope
from memplane.pipeline.operations import DELETE_ALL_BATCH
from memplane.plugins.hooks import PluginManager
from memplane.stores.inmemory import InMemoryStore

N = DELETE_ALL_BATCH + 100


class CrashingStore(InMemoryStore):
    """Atomic like its parent; its ``fail_on``-th apply raises before writing."""

    def __init__(self) -> None:
        super().__init__()
        self.applies = 0
        self.fail_on: int | None = None

    def apply(self, changes: Sequence[Change]) -> None:
        self.applies += 1
        if self.applies == self.fail_on:
            raise OSError("disk unplugged")
        super().apply(changes)


class PagedStore(CrashingStore):
    """The same without atomic_apply: delete_all must apply page by page."""

    capabilities: ClassVar[frozenset[str]] = frozenset({"keyword_search", "vector_read"})


def _memory(store: InMemoryStore) -> Memory:
    m = Memory(llm=ScriptedLLM(), embedder=HashingEmbedder({"dimension": 16}), vector_store=store,
               plugins=PluginManager(autoload=False))
    m.add([f"note {i}" for i in range(N)], user_id="u", infer=False)
    m.add("someone else's", user_id="v", infer=False)
    return m


def _live(m: Memory, user: str = "u") -> int:
    return m.vector_store.count(Scope(user_id=user))


def test_atomic_store_gets_one_batch_and_a_crash_deletes_nothing() -> None:
    store = CrashingStore()
    m = _memory(store)
    store.applies, store.fail_on = 0, 1
    with pytest.raises(OSError, match="unplugged"):
        m.delete_all(user_id="u")
    assert _live(m) == N  # not half deleted
    store.fail_on = None
    store.applies = 0
    assert m.delete_all(user_id="u") == N
    assert store.applies == 1 and _live(m) == 0 and _live(m, "v") == 1


def test_non_atomic_store_reports_incomplete_and_resumes() -> None:
    store = PagedStore()
    m = _memory(store)
    store.applies, store.fail_on = 0, 2
    with pytest.raises(IncompleteOperation, match="run delete_all again") as info:
        m.delete_all(user_id="u")
    assert info.value.done == DELETE_ALL_BATCH and _live(m) == N - DELETE_ALL_BATCH
    store.fail_on = None
    assert m.delete_all(user_id="u") == N - DELETE_ALL_BATCH
    assert _live(m) == 0 and _live(m, "v") == 1


class RestoringStore(PagedStore):
    """Between two pages of delete_all, another client restores a deleted memory."""

    restored: str | None = None

    def list_records(self, scope: Scope, **kwargs: object) -> Page:  # type: ignore[override]
        if kwargs.get("cursor") and self.restored is None:
            deleted = super().list_records(scope, limit=1, include_deleted=True)
            record = deleted.records[0]
            self.restored = record.id
            restored = record.model_copy(update={"deleted_at": None, "version": record.version + 1})
            super().apply([Change(record=restored, expected_version=record.version)])
        return super().list_records(scope, **kwargs)  # type: ignore[arg-type]


def test_concurrent_restore_is_not_blamed_on_the_store() -> None:
    store = RestoringStore()
    m = _memory(store)
    assert m.delete_all(user_id="u") == N
    assert store.restored is not None
    assert m.get(store.restored, user_id="u").deleted_at is None  # the later restore wins
