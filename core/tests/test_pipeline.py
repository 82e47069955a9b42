"""Pipeline details: prompt size and id mapping, usage accounting, duplicate
short-cuts, two-pass mode, and the tokens estimate."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from memplane.llms.scripted import ScriptedLLM
from memplane.memory import Memory
from memplane.models import DecisionList, FactList
from memplane.pipeline.prompts import read_block
from memplane.providers.base import LLMResponse
from memplane.tokens import estimate_tokens

TEN = [
    "User prefers Python for data analysis", "User's sister Anna lives in Lisbon",
    "User is allergic to peanuts", "User works as a nurse at the city hospital",
    "User plays the cello in a community orchestra", "User has a cat named Biscuit",
    "User is training for a half marathon in October", "User drinks green tea every morning",
    "User is learning Portuguese", "User moved to Berlin in 2021",
]


def test_prompt_for_one_sentence_against_ten_memories_is_lean(memory_factory: Callable[..., Memory]) -> None:
    llm = ScriptedLLM()
    m = memory_factory(llm)
    m.add(TEN, user_id="u", infer=False)
    result = m.add("I just switched from Python to Julia for my data work.", user_id="u")
    request = llm.requests[0]
    shown = read_block(request.prompt, "existing_memories")
    assert shown is not None and len(shown) == 10
    assert [item["id"] for item in shown] == list(range(10))  # small integers, never real ids
    real_ids = {r.id for r in m.get_all(user_id="u").records}
    assert not any(rid in request.prompt for rid in real_ids)
    assert request.json_schema == DecisionList.model_json_schema()
    # the benchmark figure: prompt + schema sent, estimated without a tokenizer
    assert result.usage.prompt_tokens <= 1500
    assert result.usage.prompt_tokens == estimate_tokens(request.messages[0].content) + estimate_tokens(
        request.messages[1].content) + estimate_tokens(json.dumps(request.json_schema))
    assert result.usage.llm_calls == 1 and result.usage.embedding_calls == 1


def test_provider_usage_wins_over_the_estimate(memory_factory: Callable[..., Memory]) -> None:
    from memplane.models import Usage

    llm = ScriptedLLM()
    m = memory_factory(llm)
    llm.queue(LLMResponse(text='{"decisions": []}', usage=Usage(prompt_tokens=1234, completion_tokens=5)))
    result = m.add("I like tea", user_id="u")
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (1234, 5)


def test_top_k_limits_what_the_llm_sees(memory_factory: Callable[..., Memory]) -> None:
    llm = ScriptedLLM()
    m = memory_factory(llm, config={"pipeline": {"top_k": 3}})
    m.add(TEN, user_id="u", infer=False)
    m.add("I like tea", user_id="u")
    shown = read_block(llm.requests[0].prompt, "existing_memories")
    assert shown is not None and len(shown) == 3


def test_exact_duplicate_needs_no_llm_call(memory_factory: Callable[..., Memory]) -> None:
    llm = ScriptedLLM()
    m = memory_factory(llm)
    first = m.add("User likes green tea", user_id="u", infer=False).events[0]
    result = m.add("user likes GREEN tea.", user_id="u")
    assert llm.requests == []
    assert [(e.event, e.id) for e in result.events] == [("NONE", first.id)]
    assert result.usage.llm_calls == 0


def test_system_and_empty_messages_are_ignored_and_reported(memory_factory: Callable[..., Memory]) -> None:
    llm = ScriptedLLM()
    m = memory_factory(llm)
    result = m.add([{"role": "system", "content": "be nice"}, {"role": "user", "content": "  "}], user_id="u")
    assert result.events == [] and llm.requests == []
    assert [d.code for d in result.diagnostics] == ["ignored_messages"]


def test_two_pass_extracts_then_reconciles_per_fact(memory_factory: Callable[..., Memory]) -> None:
    llm = ScriptedLLM()
    m = memory_factory(llm, config={"pipeline": {"mode": "two_pass"}})
    m.add(TEN, user_id="u", infer=False)
    llm.queue(
        {"facts": ["User prefers Julia for data analysis", "User has a dog named Pixel"]},
        {"decisions": [{"event": "UPDATE", "id": 0, "text": "User prefers Julia for data analysis"},
                       {"event": "ADD", "text": "User has a dog named Pixel"}]},
    )
    result = m.add("Switched to Julia for data work, and we adopted a dog, Pixel!", user_id="u")
    extraction, decision = llm.requests
    assert extraction.json_schema == FactList.model_json_schema() and extraction.schema_name == "facts"
    assert read_block(extraction.prompt, "messages") == [
        {"role": "user", "content": "Switched to Julia for data work, and we adopted a dog, Pixel!"}]
    facts = read_block(decision.prompt, "new_messages")
    assert facts == [{"role": "fact", "content": "User prefers Julia for data analysis"},
                     {"role": "fact", "content": "User has a dog named Pixel"}]
    shown = read_block(decision.prompt, "existing_memories")
    assert shown is not None and shown[0]["text"] == "User prefers Python for data analysis"
    assert sorted(e.event for e in result.events) == ["ADD", "UPDATE"]
    assert result.usage.llm_calls == 2


def test_two_pass_with_no_facts_makes_one_call(memory_factory: Callable[..., Memory]) -> None:
    llm = ScriptedLLM()
    m = memory_factory(llm, config={"pipeline": {"mode": "two_pass"}})
    llm.queue('Sure: {"facts": []}')
    result = m.add("hi there", user_id="u")
    assert len(llm.requests) == 1 and result.events == []


def test_two_pass_bad_extraction_is_repaired_once(memory_factory: Callable[..., Memory]) -> None:
    llm = ScriptedLLM()
    m = memory_factory(llm, config={"pipeline": {"mode": "two_pass"}})
    llm.queue("no idea", '["User likes tea", 42]', {"decisions": [{"event": "ADD", "text": "User likes tea"}]})
    result = m.add("I like tea", user_id="u")
    assert len(llm.requests) == 3
    assert [e.text for e in result.events] == ["User likes tea"]
    assert {"repair_retry", "invalid_fact", "bare_list"} <= {d.code for d in result.diagnostics}


@pytest.mark.parametrize(
    ("text", "tokens"),
    [("", 0), ("a", 1), ("memory", 2), ("12345", 2), ("hello, world!", 6), ("我喜欢寿司", 5),
     ('{"id": 0}', 7), ("naïve café", 3)],
)
def test_estimate_tokens_rule(text: str, tokens: int) -> None:
    assert estimate_tokens(text) == tokens


def test_estimate_tokens_is_not_below_common_tokenizers_on_prose() -> None:
    # ~1.3 tokens per English word is typical of BPE tokenizers; the estimate must not undercount.
    prose = "The user mentioned that she recently moved to Berlin and prefers green tea over coffee."
    assert estimate_tokens(prose) >= 1.2 * len(prose.split())
