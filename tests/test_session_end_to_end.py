"""A real memory session on the embedded defaults, across packages.

SQLite store on disk, the default local embedder (minilm_onnx: all-MiniLM-L6-v2 int8
on onnxruntime, no torch), the offline `rules` LLM: the same stack `tox -e demo` runs,
checked for what a user sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memplane.config import DEFAULT_PROVIDERS
from memplane.memory import Memory

pytest.importorskip("memplane_minilm_onnx")


def defaults(path: Path) -> dict[str, object]:
    return {
        "llm": "rules",
        "embedder": DEFAULT_PROVIDERS["embedder"],
        "vector_store": {"provider": "sqlite", "config": {"path": str(path)}},
    }


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("session") / "memory.db"


@pytest.fixture(scope="module")
def memory(db: Path) -> Iterator[Memory]:
    with Memory(defaults(db)) as m:
        for line in [
            "I live in Lisbon.",
            "I prefer Python for data analysis.",
            "I have a dog named Bruno.",
            "I am allergic to peanuts.",
        ]:
            m.add(line, user_id="alice")
        m.add("I live in Berlin.", user_id="bob")
        yield m


def top_text(memory: Memory, query: str, user: str = "alice") -> str:
    hits = memory.search(query, user_id=user, limit=3)
    assert hits, f"no hits for {query!r}"
    return hits[0].text


def test_paraphrased_questions_find_the_right_memory(memory: Memory) -> None:
    assert "Lisbon" in top_text(memory, "Which city is home?")
    assert "peanuts" in top_text(memory, "Any food intolerances?")
    assert "Bruno" in top_text(memory, "Tell me about the pet")


def test_a_change_updates_in_place_and_keeps_the_old_text(memory: Memory) -> None:
    result = memory.add("I switched to TypeScript for data analysis.", user_id="alice")
    [update] = result.by_event("UPDATE")
    assert "Python" in (update.previous_text or "") and "TypeScript" in (update.text or "")
    assert "TypeScript" in top_text(memory, "programming language for analysis")
    history = memory.history(update.id or "", user_id="alice")
    assert [h.event for h in history] == ["ADD", "UPDATE"]
    assert "Python" in (history[-1].old_text or "")


def test_retraction_hides_and_restore_brings_back(memory: Memory) -> None:
    [deleted] = memory.add("Forget that I have a dog named Bruno.", user_id="alice").by_event("DELETE")
    assert all("Bruno" not in h.text for h in memory.search("dog", user_id="alice"))
    memory.restore(deleted.id or "", user_id="alice")
    assert "Bruno" in top_text(memory, "dog")


def test_users_never_see_each_other(memory: Memory) -> None:
    assert all("Berlin" not in h.text for h in memory.search("Berlin", user_id="alice", limit=50))
    assert all("Lisbon" not in h.text for h in memory.search("Lisbon", user_id="bob", limit=50))


def test_memories_survive_reopening_the_file(memory: Memory, db: Path) -> None:
    before = {r.id for r in memory.get_all(user_id="alice").records}
    with Memory(defaults(db)) as reopened:
        after = {r.id for r in reopened.get_all(user_id="alice").records}
    assert before and before == after
