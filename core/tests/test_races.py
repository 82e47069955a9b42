"""Races between writers of one SQLite file, made deterministic.

Each test lets a competing writer (another Memory on the same file: in this process,
or in a spawned process) change a memory between the moment a Memory call read it
and the moment it writes. Before contract v2 the late writer overwrote the change:
an UPDATE resurrected a deleted memory, a DELETE wrote the old text back, a RESTORE
undid an update, and identical adds stored two copies. Only the public Memory API
is used, so these tests run against older builds too.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from memplane import Memory
from memplane.embedders.hashing import HashingEmbedder
from memplane.errors import MemoryNotFound
from memplane.llms.rules import RulesLLM
from memplane.llms.scripted import ScriptedLLM
from memplane.models import Change, HistoryEntry
from memplane.stores.sqlite import SQLiteStore

USER = "racer"
DIM = 64
FACT = "I like green tea"


class InterleavedStore(SQLiteStore):
    """The sqlite store, letting one competing writer in just before its next write."""

    before_next_apply: Callable[[], None] | None = None

    def apply(self, changes: Sequence[Change]) -> None:  # the real write follows
        hook, self.before_next_apply = self.before_next_apply, None
        if hook is not None:
            hook()
        super().apply(changes)


def _memory(store: SQLiteStore) -> Memory:
    return Memory(llm=RulesLLM(), embedder=HashingEmbedder(dimension=DIM), vector_store=store)


def _compete(path: str, op: str, memory_id: str) -> None:
    """One competing write on the file, from a fresh Memory (in a thread or process)."""
    store = SQLiteStore(path=path)
    with _memory(store) as other:
        if op == "delete":
            other.delete(memory_id, user_id=USER)
        elif op == "update":
            other.update(memory_id, "competitor's text", user_id=USER)
        elif op == "restore_update":
            other.restore(memory_id, user_id=USER)
            other.update(memory_id, "competitor's text", user_id=USER)
        else:
            other.add(FACT, user_id=USER)
    store.close()


@pytest.fixture(params=["same-process", "other-process"])
def where(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def racing(tmp_path: Path, where: str) -> Iterator[tuple[Memory, InterleavedStore, Callable[..., None]]]:
    path = str(tmp_path / "race.db")
    store = InterleavedStore(path=path)
    memory = _memory(store)

    def arrange(op: str, memory_id: str = "") -> None:
        def run() -> None:
            if where == "same-process":
                _compete(path, op, memory_id)
                return
            proc = multiprocessing.get_context("spawn").Process(
                target=_compete, args=(path, op, memory_id))
            proc.start()
            proc.join(timeout=300)
            assert proc.exitcode == 0, "the competing process failed"
        store.before_next_apply = run

    yield memory, store, arrange
    memory.close()
    store.close()


def _seed(memory: Memory, text: str = "the seed fact") -> str:
    [event] = memory.add(text, user_id=USER, infer=False).events
    assert event.id is not None
    return event.id


def _events(history: Sequence[HistoryEntry]) -> list[str]:
    return [str(e.event) for e in history]


def test_update_racing_a_delete_does_not_resurrect(racing: Any) -> None:
    memory, _store, arrange = racing
    memory_id = _seed(memory)
    arrange("delete", memory_id)  # lands after update() read the memory
    with pytest.raises(MemoryNotFound):
        memory.update(memory_id, "late text", user_id=USER)
    stored = memory.get(memory_id, user_id=USER, include_deleted=True)
    assert stored.deleted_at is not None and stored.text == "the seed fact"
    assert _events(memory.history(memory_id, user_id=USER)) == ["ADD", "DELETE"]


def test_delete_racing_an_update_does_not_write_old_text_back(racing: Any) -> None:
    memory, _store, arrange = racing
    memory_id = _seed(memory)
    arrange("update", memory_id)
    memory.delete(memory_id, user_id=USER)
    stored = memory.get(memory_id, user_id=USER, include_deleted=True)
    assert stored.deleted_at is not None
    assert stored.text == "competitor's text", "the delete wrote the text it had read back"
    history = memory.history(memory_id, user_id=USER)
    assert _events(history) == ["ADD", "UPDATE", "DELETE"]
    assert history[-1].old_text == "competitor's text"


def test_restore_racing_a_restore_and_update_keeps_the_update(racing: Any) -> None:
    memory, _store, arrange = racing
    memory_id = _seed(memory)
    memory.delete(memory_id, user_id=USER)
    arrange("restore_update", memory_id)
    restored = memory.restore(memory_id, user_id=USER)
    assert restored.text == "competitor's text"
    stored = memory.get(memory_id, user_id=USER)
    assert stored.text == "competitor's text" and stored.deleted_at is None
    assert _events(memory.history(memory_id, user_id=USER)) == [
        "ADD", "DELETE", "RESTORE", "UPDATE"]


def test_identical_adds_racing_leave_one_memory(racing: Any) -> None:
    memory, _store, arrange = racing
    assert memory.add(FACT, user_id=USER).events  # sequential: the second add is NONE
    assert [e.event for e in memory.add(FACT, user_id=USER).events] == ["NONE"]
    memory.reset()
    arrange("add")  # lands after this add searched and asked the LLM
    memory.add(FACT, user_id=USER)
    assert len(memory.get_all(user_id=USER).records) == 1


def test_verbatim_add_of_a_live_text_is_none(tmp_path: Path) -> None:
    """infer=False stores messages as given, but a scope holds one live copy of a text."""
    store = SQLiteStore(path=str(tmp_path / "verbatim.db"))
    with _memory(store) as memory:
        [first] = memory.add(FACT, user_id=USER, infer=False).events
        [again] = memory.add([FACT, FACT + "."], user_id=USER, infer=False).events
        assert (again.event, again.id) == ("NONE", first.id)
        assert len(memory.get_all(user_id=USER).records) == 1
    store.close()


def _scripted(tmp_path: Path) -> tuple[Memory, InterleavedStore, ScriptedLLM]:
    store = InterleavedStore(path=str(tmp_path / "replan.db"))
    llm = ScriptedLLM()
    return Memory(llm=llm, embedder=HashingEmbedder(dimension=DIM), vector_store=store), store, llm


def test_add_asks_the_llm_again_when_a_memory_it_decided_on_changed(tmp_path: Path) -> None:
    memory, store, llm = _scripted(tmp_path)
    memory_id = _seed(memory, "prefers Python")
    llm.queue(json.dumps({"decisions": [{"event": "UPDATE", "id": 0, "text": "prefers Rust"}]}),
              json.dumps({"decisions": [{"event": "UPDATE", "id": 0, "text": "prefers Rust and Go"}]}))
    store.before_next_apply = lambda: _compete(store.path, "update", memory_id)
    result = memory.add("I moved to Rust", user_id=USER)
    assert len(llm.requests) == 2, "the plan's memory changed: the LLM must decide again"
    assert "competitor's text" in json.dumps(llm.requests[1].messages[-1].content)
    assert [(e.event, e.previous_text) for e in result.events] == [
        ("UPDATE", "competitor's text")]
    assert any(d.code == "conflict_retry" for d in result.diagnostics)
    history = memory.history(memory_id, user_id=USER)
    assert [h.new_text for h in history] == ["prefers Python", "competitor's text",
                                             "prefers Rust and Go"]
    memory.close()
    store.close()


def test_add_whose_fact_was_added_meanwhile_needs_no_second_llm_call(tmp_path: Path) -> None:
    memory, store, llm = _scripted(tmp_path)
    llm.queue(json.dumps({"decisions": [{"event": "ADD", "text": "Likes green tea"}]}))
    store.before_next_apply = lambda: _compete_add_text(store.path, "Likes green tea")
    result = memory.add(FACT, user_id=USER)
    assert len(llm.requests) == 1
    assert [e.event for e in result.events] == ["NONE"]
    assert [r.text for r in memory.get_all(user_id=USER).records] == ["Likes green tea"]
    memory.close()
    store.close()


def _compete_add_text(path: str, text: str) -> None:
    store = SQLiteStore(path=path)
    with _memory(store) as other:
        other.add(text, user_id=USER, infer=False)
    store.close()
