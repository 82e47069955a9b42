"""Import and delete_all speak store contract v2: import creates (version 1,
expected_version None) and appends later history as versioned updates, skipping a
second live copy of one text; delete_all expects the versions it read and re-reads
after a Conflict."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import ClassVar

import pytest

from memplane.cli.transfer import export_scope, import_entries, read_export
from memplane.embedders.hashing import HashingEmbedder
from memplane.errors import Conflict, IncompleteOperation
from memplane.llms.scripted import ScriptedLLM
from memplane.memory import Memory
from memplane.models import Change, MemoryRecord, Scope
from memplane.plugins.hooks import PluginManager
from memplane.stores.inmemory import InMemoryStore

SCOPE = Scope(user_id="u")


def _memory(store: InMemoryStore) -> Memory:
    return Memory(llm=ScriptedLLM(), embedder=HashingEmbedder({"dimension": 16}), vector_store=store,
                  plugins=PluginManager(autoload=False))


def test_import_versions_follow_the_history_and_a_second_live_copy_is_skipped() -> None:
    source = InMemoryStore()
    with _memory(source) as m:
        first = str(m.add("I like green tea", user_id="u", infer=False).events[0].id)
        m.update(first, "I like black tea", user_id="u")
        m.update(first, "I like oolong", user_id="u")
        embedder = m.embedder
        dump = io.StringIO()
        export_scope(source, embedder, SCOPE, dump, vectors=False, show_progress=False)
    header, entries = read_export(iter(dump.getvalue().splitlines()))
    # a v1 store kept two live records of one text: the second one is not importable
    twin = entries[0].model_copy(update={"record": MemoryRecord(text=entries[0].record.text, scope=SCOPE),
                                         "history": []})
    target = InMemoryStore()
    target.open(embedder.dimension)
    report = import_entries(target, embedder, header.model_copy(update={"count": None, "sha256": None}),
                            [*entries, twin], force_reembed=False, show_progress=False)
    assert (report.imported, report.skipped_existing) == (1, 1)
    [got] = target.get([first], SCOPE)
    assert got.version == 3 and got.text == "I like oolong"
    assert [h.event for h in target.history(first, SCOPE)] == ["ADD", "UPDATE", "UPDATE"]


class RacedStore(InMemoryStore):
    """Before each of its first ``races`` applies another client edits a memory."""

    races = 0

    def apply(self, changes: Sequence[Change]) -> None:
        if self.races and changes and changes[0].expected_version is not None:
            self.races -= 1
            [current] = self.get([changes[0].record.id], changes[0].record.scope)
            edited = current.model_copy(update={"metadata": {"edited": True},
                                                "version": current.version + 1})
            super().apply([Change(record=edited, expected_version=current.version)])
        super().apply(changes)


class RacedPagedStore(RacedStore):
    capabilities: ClassVar[frozenset[str]] = frozenset({"keyword_search", "vector_read"})


@pytest.mark.parametrize("store_type", [RacedStore, RacedPagedStore])
def test_delete_all_rereads_after_a_conflict(store_type: type[RacedStore]) -> None:
    store = store_type()
    m = _memory(store)
    m.add(["one", "two", "three"], user_id="u", infer=False)
    store.races = 2
    assert m.delete_all(user_id="u") == 3
    assert store.count(SCOPE) == 0
    records = store.list_records(SCOPE, include_deleted=True).records
    # the concurrent edit was not lost: delete_all re-read it and deleted the edited version
    assert any(r.metadata == {"edited": True} and r.deleted_at is not None for r in records)


@pytest.mark.parametrize(("store_type", "error"), [(RacedStore, Conflict),
                                                   (RacedPagedStore, IncompleteOperation)])
def test_delete_all_gives_up_after_repeated_conflicts(store_type: type[RacedStore],
                                                      error: type[Exception]) -> None:
    store = store_type()
    m = _memory(store)
    m.add(["one", "two"], user_id="u", infer=False)
    store.races = 100
    with pytest.raises(error):
        m.delete_all(user_id="u")
    assert store.count(SCOPE) == 2  # nothing deleted
