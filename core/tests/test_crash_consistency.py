"""A failure part-way through an add leaves memories and history consistent.

Failures are injected into the real write path: a SQLite trigger that aborts the
transaction in the middle of writing history rows, and an in-memory store subclass
without atomic_apply that crashes after writing part of a batch. Provider failures
before the write (LLM, embedder) must leave the store untouched.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from memplane.embedders.hashing import HashingEmbedder
from memplane.errors import ProviderError
from memplane.llms.scripted import ScriptedLLM
from memplane.memory import Memory
from memplane.models import Change, MemoryRecord
from memplane.plugins.hooks import PluginManager
from memplane.providers.base import VectorStore
from memplane.stores.inmemory import InMemoryStore
from memplane.stores.sqlite import SQLiteStore

OLD = "User prefers Python"
CONTRADICTION = {"decisions": [
    {"event": "ADD", "text": "User prefers TypeScript"},
    {"event": "UPDATE", "id": 0, "text": "User prefers Python for scripts only"},
]}


def snapshot(m: Memory) -> list[tuple[MemoryRecord, list[tuple[str, str | None, str | None]]]]:
    records = m.get_all(user_id="u", include_deleted=True, include_expired=True).records
    return sorted(
        ((r, [(h.event, h.old_text, h.new_text) for h in m.history(r.id, user_id="u")]) for r in records),
        key=lambda pair: pair[0].id,
    )


def assert_consistent(m: Memory) -> None:
    for record, history in snapshot(m):
        assert history and history[0][0] == "ADD"
        assert next(new for _, _, new in reversed(history) if new is not None) == record.text
        assert (history[-1][0] == "DELETE") == (record.deleted_at is not None)


def build(store: VectorStore, llm: ScriptedLLM, embedder: HashingEmbedder | None = None) -> Memory:
    return Memory(llm=llm, embedder=embedder or HashingEmbedder({"dimension": 64}), vector_store=store,
                  plugins=PluginManager(autoload=False))


def test_sqlite_trigger_abort_mid_batch_rolls_back_everything(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    llm = ScriptedLLM()
    m = build(SQLiteStore({"path": str(path)}), llm)
    m.add(OLD, user_id="u", infer=False)
    before = snapshot(m)

    # Abort when the *second* history row of the batch (the UPDATE) is written:
    # the ADD's record and history row are already in the transaction by then.
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TRIGGER crash BEFORE INSERT ON history WHEN NEW.event = 'UPDATE' "
            "BEGIN SELECT RAISE(ABORT, 'injected crash'); END"
        )
    llm.queue(CONTRADICTION)
    with pytest.raises(ProviderError, match="injected crash"):
        m.add("I mostly use TypeScript now", user_id="u")
    assert snapshot(m) == before
    assert m.search("TypeScript", user_id="u", hybrid=False)[0].text == OLD

    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER crash")
    llm.queue(CONTRADICTION)
    result = m.add("I mostly use TypeScript now", user_id="u")
    assert sorted(e.event for e in result.events) == ["ADD", "UPDATE"]
    assert_consistent(m)
    m.close()


class CrashingStore(InMemoryStore):
    """A store without atomic_apply that dies after writing ``survive`` changes."""

    capabilities = frozenset({"keyword_search"})

    def __init__(self) -> None:
        super().__init__()
        self.survive: int | None = None

    def apply(self, changes: Sequence[Change]) -> None:
        if self.survive is None:
            return super().apply(changes)
        super().apply(changes[: self.survive])
        raise ProviderError("injected crash after partial write", provider=self.name)


def test_non_atomic_store_crash_keeps_the_new_fact_before_the_delete() -> None:
    store = CrashingStore()
    llm = ScriptedLLM()
    m = build(store, llm)
    m.add(OLD, user_id="u", infer=False)
    store.survive = 1
    # The model lists DELETE first; the pipeline writes ADD/UPDATE before DELETE, so a
    # crash after one write leaves the new fact stored and the old one still live.
    llm.queue({"decisions": [{"event": "DELETE", "id": 0}, {"event": "ADD", "text": "User prefers Go"}]})
    with pytest.raises(ProviderError):
        m.add("I switched to Go", user_id="u")
    live = sorted(r.text for r in m.get_all(user_id="u").records)
    assert live == ["User prefers Go", OLD]
    assert_consistent(m)


def test_llm_failure_writes_nothing(tmp_path: Path) -> None:
    llm = ScriptedLLM()
    m = build(SQLiteStore({"path": str(tmp_path / "m.db")}), llm)
    m.add(OLD, user_id="u", infer=False)
    before = snapshot(m)
    llm.queue(ProviderError("upstream 500", provider="scripted", retryable=True))
    with pytest.raises(ProviderError, match="upstream 500"):
        m.add("I switched to Go", user_id="u")
    assert snapshot(m) == before
    m.close()


class FlakyEmbedder(HashingEmbedder):
    """Fails on the n-th embed call (a real embedder whose backend goes away)."""

    def __init__(self, fail_on_call: int) -> None:
        super().__init__({"dimension": 64})
        self.calls = 0
        self.fail_on_call = fail_on_call

    def embed(self, texts, *, purpose="document"):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise ProviderError("embedding backend went away", provider="hashing", retryable=True)
        return super().embed(texts, purpose=purpose)


def test_embedder_failure_after_the_llm_call_writes_nothing() -> None:
    llm = ScriptedLLM()
    embedder = FlakyEmbedder(fail_on_call=3)  # 1: seed add, 2: retrieval, 3: new texts
    m = build(InMemoryStore(), llm, embedder)
    m.add(OLD, user_id="u", infer=False)
    before = snapshot(m)
    llm.queue({"decisions": [{"event": "UPDATE", "id": 0, "text": "User prefers Go"}]})
    with pytest.raises(ProviderError, match="went away"):
        m.add("I switched to Go", user_id="u")
    assert len(llm.requests) == 1
    assert snapshot(m) == before
