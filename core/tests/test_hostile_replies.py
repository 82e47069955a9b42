"""LLM replies that used to crash planning or silently do the wrong thing.

Deep nesting (RecursionError), lone surrogates (UnicodeEncodeError at hashing) and
keys that differ only in case (``"event"`` beside ``"EVENT"``) must each end as a
rejected decision in diagnostics, with the store unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from memplane.llms.scripted import ScriptedLLM
from memplane.memory import Memory
from memplane.pipeline.parsing import MAX_JSON_DEPTH, ReplyUnusable, parse_decisions
from memplane.providers.base import LLMResponse

OLD = "User prefers Python"
DEEP = '{"decisions": ' + "[" * 5000 + "]" * 5000 + "}"
SURROGATE = '{"decisions": [{"event": "ADD", "text": "User likes tea \\ud800"}]}'
RAW_SURROGATE = '{"decisions": [{"event": "ADD", "text": "User likes tea \ud800"}]}'
CASE_CLASH = '{"decisions": [{"event": "ADD", "EVENT": "DELETE", "id": 0}]}'
SYNONYM_CLASH = '{"decisions": [{"event": "ADD", "action": "DELETE", "id": 0}]}'


def _seeded(memory_factory: Callable[..., Memory], **config: object) -> tuple[Memory, ScriptedLLM]:
    llm = ScriptedLLM()
    m = memory_factory(llm, config=config or None)
    m.add(OLD, user_id="u", infer=False)
    return m, llm


def _live(m: Memory) -> list[str]:
    return sorted(r.text for r in m.get_all(user_id="u").records)


@pytest.mark.parametrize(
    ("reply", "code"),
    [(DEEP, "unusable_reply"), (SURROGATE, "invalid_decision"), (RAW_SURROGATE, "invalid_decision"),
     (CASE_CLASH, "ambiguous_decision"), (SYNONYM_CLASH, "ambiguous_decision")],
    ids=["deep", "escaped-surrogate", "raw-surrogate", "case-clash", "synonym-clash"],
)
def test_hostile_reply_is_rejected_and_reported(
    reply: str, code: str, memory_factory: Callable[..., Memory]
) -> None:
    m, llm = _seeded(memory_factory, pipeline={"max_repair_retries": 0})
    llm.queue(reply)
    result = m.add("I like tea", user_id="u")
    assert _live(m) == [OLD]  # nothing deleted, nothing half-added
    rejected = [d for d in result.diagnostics if d.code == code]
    assert rejected and rejected[0].detail["kind"] == "rejected"
    json.dumps([d.model_dump(mode="json") for d in result.diagnostics]).encode("utf-8")  # printable


def test_structured_reply_nested_too_deep_is_unusable() -> None:
    value: object = []
    for _ in range(5000):
        value = [value]
    with pytest.raises(ReplyUnusable, match=str(MAX_JSON_DEPTH)):
        parse_decisions(LLMResponse(text="", structured={"decisions": value}))


def test_same_value_under_two_synonyms_is_accepted() -> None:
    parsed = parse_decisions(LLMResponse(text='{"decisions": [{"event": "ADD", "action": "add", "text": "x"}]}'))
    assert [d.event for d in parsed.decisions] == ["ADD"] and not parsed.invalid


def test_two_pass_fact_with_surrogate_is_rejected(memory_factory: Callable[..., Memory]) -> None:
    m, llm = _seeded(memory_factory, pipeline={"mode": "two_pass", "max_repair_retries": 0})
    llm.queue('{"facts": ["User likes tea \\ud800"]}')
    result = m.add("I like tea", user_id="u")
    assert _live(m) == [OLD]
    assert any(d.code == "invalid_fact" and d.detail["kind"] == "rejected" for d in result.diagnostics)


def test_two_pass_fact_with_case_clash_is_rejected(memory_factory: Callable[..., Memory]) -> None:
    m, llm = _seeded(memory_factory, pipeline={"mode": "two_pass", "max_repair_retries": 0})
    llm.queue('{"facts": [{"text": "User likes tea", "TEXT": "User hates tea"}]}')
    result = m.add("I like tea", user_id="u")
    assert _live(m) == [OLD]
    assert any(d.code == "ambiguous_fact" for d in result.diagnostics)


def test_reranker_reply_nested_too_deep_is_a_grade_error() -> None:
    from memplane.rerankers.llm import GradeParseError, parse_grades

    with pytest.raises(GradeParseError, match="deeper"):
        parse_grades(LLMResponse(text='{"scores": ' + "[" * 5000 + "]" * 5000 + "}"), 3)
