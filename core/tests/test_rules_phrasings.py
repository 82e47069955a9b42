"""Ordinary phrasings through the rules LLM, end to end, and its honesty about misses.

Before: "My name is Dana and I live in Chicago" then "I moved to Denver" replaced
the whole memory (losing the name), and "Forget my job." did nothing, silently.
"""

from __future__ import annotations

from collections.abc import Callable

from memplane.llms.rules import RulesLLM
from memplane.memory import Memory


def _texts(m: Memory) -> list[str]:
    return sorted(r.text for r in m.get_all(user_id="u").records)


def test_a_move_keeps_the_name(memory_factory: Callable[..., Memory]) -> None:
    m = memory_factory(RulesLLM())
    m.add("My name is Dana and I live in Chicago", user_id="u")
    assert _texts(m) == ["User lives in Chicago", "User's name is Dana"]
    m.add("I moved to Denver", user_id="u")
    assert _texts(m) == ["User lives in Denver", "User's name is Dana"]


def test_forget_my_job(memory_factory: Callable[..., Memory]) -> None:
    m = memory_factory(RulesLLM())
    m.add("I work at Acme. I like tea.", user_id="u")
    result = m.add("Forget my job.", user_id="u")
    assert [e.event for e in result.events] == ["DELETE"]
    assert _texts(m) == ["User likes tea"]


def test_quitting_a_job_and_call_me(memory_factory: Callable[..., Memory]) -> None:
    m = memory_factory(RulesLLM())
    m.add("Call me Sam. I work as a nurse at the clinic.", user_id="u")
    assert "User's name is Sam" in _texts(m)
    m.add("I quit my job", user_id="u")
    assert _texts(m) == ["User's name is Sam"]


def test_unrecognised_statements_are_reported(memory_factory: Callable[..., Memory]) -> None:
    m = memory_factory(RulesLLM())
    result = m.add("The weather in Oslo was lovely yesterday", user_id="u")
    assert result.events == []
    notes = [d for d in result.diagnostics if d.code == "nothing_recorded"]
    assert notes and "unrecognised" in notes[0].message and "Oslo" in notes[0].message
    missed = m.add("Forget my job.", user_id="u")  # nothing to forget
    assert any("matches no stored memory" in d.message for d in missed.diagnostics)
