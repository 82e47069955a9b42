"""`memplane import` checks which ids a scope already holds in a few large lookups
(and none in an empty scope), so a 100k migration is not 1 500 round trips; resuming
still skips exactly the ids present."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from memplane.cli.import_file import LOOKUP_BATCH, ExportHeader, ExportLine, import_entries
from memplane.embedders.hashing import HashingEmbedder
from memplane.errors import IdOwnedByAnotherScope
from memplane.models import Change, HistoryEntry, HistoryEvent, MemoryRecord, Scope
from memplane.stores.inmemory import InMemoryStore

ALICE = Scope(user_id="alice")


class CountingStore(InMemoryStore):
    gets = 0

    def get(self, ids: Sequence[str], scope: Scope, *, include_deleted: bool = True) -> list[MemoryRecord]:
        self.gets += 1
        return super().get(ids, scope, include_deleted=include_deleted)


def entries(n: int, scope: Scope = ALICE) -> list[ExportLine]:
    out = []
    for i in range(n):
        record = MemoryRecord(text=f"fact {i}", scope=scope)
        out.append(ExportLine(record=record, history=[HistoryEntry(
            memory_id=record.id, event=HistoryEvent.ADD, new_text=record.text)]))
    return out


def run(store: InMemoryStore, lines: list[ExportLine]) -> tuple[int, int]:
    header = ExportHeader(format="memplane-export", version=2, scope={"user_id": "alice"})
    report = import_entries(store, HashingEmbedder(), header, lines, force_reembed=False,
                            show_progress=False)
    return report.imported, report.skipped_existing


def opened() -> CountingStore:
    store = CountingStore()
    store.open(HashingEmbedder().dimension)
    return store


def test_an_empty_scope_is_not_read_back_id_by_id() -> None:
    store = opened()
    assert run(store, entries(LOOKUP_BATCH + 100)) == (LOOKUP_BATCH + 100, 0)
    assert store.gets == 0
    assert store.count(ALICE) == LOOKUP_BATCH + 100


def test_resume_skips_exactly_the_present_ids_in_few_lookups() -> None:
    store = opened()
    lines = entries(LOOKUP_BATCH + 100)
    run(store, lines[:LOOKUP_BATCH + 50])  # an earlier import stopped part way
    store.gets = 0
    assert run(store, lines) == (50, LOOKUP_BATCH + 50)
    assert store.gets == 2  # ceil(600 / 500) lookups, not one per 64 ids
    assert store.count(ALICE) == LOOKUP_BATCH + 100


def test_an_id_another_scope_owns_is_still_refused_in_an_empty_scope() -> None:
    store = opened()
    bob = entries(1, Scope(user_id="bob"))[0]
    store.apply([Change(record=bob.record, vector=list(HashingEmbedder().embed(["x"])[0]))])
    stolen = ExportLine(record=bob.record.model_copy(update={"scope": ALICE}))
    with pytest.raises(IdOwnedByAnotherScope):
        run(store, [*entries(3), stolen])
    assert store.count(ALICE, include_deleted=True) == 0
