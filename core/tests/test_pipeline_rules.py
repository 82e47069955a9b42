"""ADD / UPDATE / DELETE / NONE end to end with the rules LLM, on both stores."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from memplane.config import MemoryConfig
from memplane.llms.rules import RulesLLM
from memplane.memory import Memory


@pytest.fixture(params=["single", "two_pass"])
def rules_memory(request: pytest.FixtureRequest, memory_factory: Callable[..., Memory]) -> Memory:
    return memory_factory(RulesLLM(), config=MemoryConfig(pipeline={"mode": request.param}))


def live_texts(m: Memory, user: str) -> list[str]:
    return sorted(r.text for r in m.get_all(user_id=user).records)


def test_new_first_person_fact_is_added(rules_memory: Memory) -> None:
    result = rules_memory.add("I prefer Python for data work.", user_id="u")
    assert [(e.event, e.text) for e in result.events] == [("ADD", "User prefers Python for data work")]
    assert result.diagnostics == [] or all(d.detail.get("kind") != "rejected" for d in result.diagnostics)


def test_switch_updates_in_place_and_keeps_the_old_text_in_history(rules_memory: Memory) -> None:
    first = rules_memory.add("I prefer Python", user_id="u").events[0]
    result = rules_memory.add("I switched to TypeScript", user_id="u")
    assert [(e.event, e.id) for e in result.events] == [("UPDATE", first.id)]
    assert result.events[0].previous_text == "User prefers Python"
    assert live_texts(rules_memory, "u") == ["User prefers TypeScript"]
    history = rules_memory.history(str(first.id), user_id="u")
    assert [(h.event, h.old_text, h.new_text) for h in history] == [
        ("ADD", None, "User prefers Python"),
        ("UPDATE", "User prefers Python", "User prefers TypeScript"),
    ]


def test_known_fact_is_none_and_changes_nothing(rules_memory: Memory) -> None:
    added = rules_memory.add("I like sushi", user_id="u").events[0]
    result = rules_memory.add("I like sushi!", user_id="u")
    assert [(e.event, e.id) for e in result.events] == [("NONE", added.id)]
    assert live_texts(rules_memory, "u") == ["User likes sushi"]
    assert len(rules_memory.history(str(added.id), user_id="u")) == 1


def test_forget_soft_deletes_and_restore_brings_it_back(rules_memory: Memory) -> None:
    sushi = rules_memory.add("I like sushi", user_id="u").events[0]
    rules_memory.add("I have a cat named Miso", user_id="u")
    result = rules_memory.add("Please forget that I like sushi", user_id="u")
    assert [(e.event, e.id) for e in result.events] == [("DELETE", sushi.id)]
    assert live_texts(rules_memory, "u") == ["User has a cat named Miso"]
    assert all(h.id != sushi.id for h in rules_memory.search("sushi", user_id="u"))
    rules_memory.restore(str(sushi.id), user_id="u")
    assert live_texts(rules_memory, "u") == ["User has a cat named Miso", "User likes sushi"]


def test_correction_with_not_clause_updates_the_named_value(rules_memory: Memory) -> None:
    rules_memory.add("I like tea", user_id="u")
    munich = rules_memory.add("I live in Munich", user_id="u").events[0]
    result = rules_memory.add("Actually, I live in Berlin, not Munich.", user_id="u")
    assert [(e.event, e.id, e.text) for e in result.events] == [("UPDATE", munich.id, "User lives in Berlin")]


def test_no_longer_deletes_only_the_matching_memory(rules_memory: Memory) -> None:
    rules_memory.add("I eat meat", user_id="u")
    keep = rules_memory.add("I play chess", user_id="u").events[0]
    result = rules_memory.add("I don't eat meat anymore", user_id="u")
    assert [e.event for e in result.events] == ["DELETE"]
    assert [r.id for r in rules_memory.get_all(user_id="u").records] == [keep.id]


def test_small_talk_and_questions_write_nothing(rules_memory: Memory) -> None:
    result = rules_memory.add(
        [{"role": "user", "content": "Hi! Can you help me?"},
         {"role": "assistant", "content": "I recommend trying Rust."}],
        user_id="u",
    )
    assert result.events == []
    assert live_texts(rules_memory, "u") == []


def test_scopes_do_not_see_each_others_memories(rules_memory: Memory) -> None:
    rules_memory.add("I prefer Python", user_id="alice")
    result = rules_memory.add("I switched to TypeScript", user_id="bob")
    # bob has nothing to update, so the change becomes a new fact in bob's scope only
    assert [e.event for e in result.events] == ["ADD"]
    assert live_texts(rules_memory, "alice") == ["User prefers Python"]
