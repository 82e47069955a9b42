"""A corpus of malformed LLM replies driven through the real pipeline.

Every case starts from one stored memory, "User prefers Python" (shown to the LLM
as id 0), adds one message, and answers with scripted replies (the second one, when
given, answers the repair retry). For every case: the store ends in exactly the
expected state, history agrees with the records, every rejection is reported in
diagnostics, and at most one repair retry is made.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from memplane.llms.scripted import ScriptedLLM
from memplane.memory import Memory
from memplane.providers.base import LLMResponse

OLD = "User prefers Python"
NEW = "User prefers TypeScript"
TEA = "User likes tea"
GOOD_UPDATE = json.dumps({"decisions": [{"event": "UPDATE", "id": 0, "text": NEW}]})
GOOD_ADD = json.dumps({"decisions": [{"event": "ADD", "text": TEA}]})


def dec(*items: dict[str, Any]) -> str:
    return json.dumps({"decisions": list(items)})


@dataclass
class Case:
    name: str
    replies: list[Any]
    live: list[str]  # texts of live memories afterwards
    events: list[str] = field(default_factory=list)
    codes: set[str] = field(default_factory=set)  # diagnostic codes that must appear
    calls: int = 1


CASES = [
    # --- JSON hidden in text -------------------------------------------------------
    Case("fenced json", ["```json\n" + GOOD_UPDATE + "\n```"], [NEW], ["UPDATE"], {"json_in_fence"}),
    Case("fence without language", ["```\n" + GOOD_ADD + "\n```"], [OLD, TEA], ["ADD"], {"json_in_fence"}),
    Case("chatty text around json", ["Sure! Here is the diff:\n" + GOOD_ADD + "\nLet me know!"], [OLD, TEA], ["ADD"], {"json_in_text"}),
    Case("bracketed note before json", ["[note] Result follows " + GOOD_ADD], [OLD, TEA], ["ADD"], {"json_in_text"}),
    Case("two json objects, first wins", [GOOD_ADD + "\n" + GOOD_UPDATE], [OLD, TEA], ["ADD"], {"json_in_text"}),
    Case("trailing commas", ['{"decisions": [{"event": "ADD", "text": "User likes tea",},],}'], [OLD, TEA], ["ADD"]),
    Case("fenced json with trailing commas", ['```json\n{"decisions": [{"event": "ADD", "text": "User likes tea",}]}\n```'], [OLD, TEA], ["ADD"], {"json_in_fence"}),
    Case("bare list", ['[{"event": "ADD", "text": "User likes tea"}]'], [OLD, TEA], ["ADD"], {"bare_list"}),
    Case("single decision object", ['{"event": "ADD", "text": "User likes tea"}'], [OLD, TEA], ["ADD"], {"single_decision"}),
    Case("synonym list key", ['{"memories": [{"event": "ADD", "text": "User likes tea"}]}'], [OLD, TEA], ["ADD"], {"list_synonym"}),
    # --- wrong field names and spellings --------------------------------------------
    Case("action and memory fields", ['{"decisions": [{"action": "add", "memory": "User likes tea"}]}'], [OLD, TEA], ["ADD"], {"field_synonym", "event_synonym"}),
    Case("type, memory_id as string, fact", ['{"decisions": [{"type": "UPDATE", "memory_id": "0", "fact": "User prefers TypeScript"}]}'], [NEW], ["UPDATE"], {"field_synonym"}),
    Case("lowercase event", [dec({"event": "update", "id": 0, "text": NEW})], [NEW], ["UPDATE"], {"event_synonym"}),
    Case("event synonym REMOVE", [dec({"event": "REMOVE", "id": 0})], [], ["DELETE"], {"event_synonym"}),
    Case("echoed old_memory field is ignored", [dec({"event": "UPDATE", "id": 0, "text": NEW, "old_memory": OLD})], [NEW], ["UPDATE"]),
    # --- unusable replies: one repair retry, then diagnostics --------------------------
    Case("truncated json, repaired", ['{"decisions": [{"event": "ADD", "text": "User li', GOOD_ADD], [OLD, TEA], ["ADD"], {"repair_retry"}, calls=2),
    Case("truncated json twice", ['{"decisions": [{"event": "ADD"', '{"decisions": ['], [OLD], [], {"repair_retry", "unusable_reply"}, calls=2),
    Case("empty output twice", ["", "   "], [OLD], [], {"unusable_reply"}, calls=2),
    Case("prose instead of json", ["The user now likes TypeScript.", "I cannot comply."], [OLD], [], {"unusable_reply"}, calls=2),
    Case("python literal quotes", ["{'decisions': []}", "{'decisions': []}"], [OLD], [], {"unusable_reply"}, calls=2),
    Case("json null", ["null", "null"], [OLD], [], {"unusable_reply"}, calls=2),
    Case("json number", ["42", GOOD_ADD], [OLD, TEA], ["ADD"], {"repair_retry"}, calls=2),
    Case("decisions is an object", ['{"decisions": {"event": "ADD"}}', '{"decisions": {"event": "ADD"}}'], [OLD], [], {"unusable_reply"}, calls=2),
    Case("wrong top-level keys", ['{"result": "ok"}', GOOD_UPDATE], [NEW], ["UPDATE"], {"repair_retry"}, calls=2),
    Case("native structured output of the wrong shape", [{"answer": "yes"}, GOOD_ADD], [OLD, TEA], ["ADD"], {"repair_retry"}, calls=2),
    # --- invalid items --------------------------------------------------------------
    Case("invalid event, repaired", [dec({"event": "MERGE", "id": 0}), GOOD_UPDATE], [NEW], ["UPDATE"], {"repair_retry"}, calls=2),
    Case("invalid event twice", [dec({"event": "MERGE", "id": 0}), dec({"event": "MERGE", "id": 0})], [OLD], [], {"invalid_decision"}, calls=2),
    Case("text is a list", [dec({"event": "ADD", "text": ["a", "b"]})] * 2, [OLD], [], {"invalid_decision"}, calls=2),
    Case("id is a bool", [dec({"event": "DELETE", "id": True})] * 2, [OLD], [], {"invalid_decision"}, calls=2),
    Case("id is a fraction", [dec({"event": "DELETE", "id": 0.5})] * 2, [OLD], [], {"invalid_decision"}, calls=2),
    Case("unknown extra field", [dec({"event": "ADD", "text": TEA, "priority": "high"})] * 2, [OLD], [], {"invalid_decision"}, calls=2),
    Case("items are strings", ['{"decisions": ["ADD User likes tea"]}'] * 2, [OLD], [], {"invalid_decision"}, calls=2),
    Case("bad attribution", [dec({"event": "ADD", "text": TEA, "attributed_to": "robot"})] * 2, [OLD], [], {"invalid_decision"}, calls=2),
    Case("valid items survive next to an invalid one", [dec({"event": "ADD", "text": TEA}, {"event": "MERGE"})] * 2, [OLD, TEA], ["ADD"], {"invalid_decision"}, calls=2),
    # --- ids that do not resolve: diagnostics, never writes, no retry ------------------
    Case("invented id on UPDATE", [dec({"event": "UPDATE", "id": 7, "text": NEW})], [OLD], [], {"unknown_id"}),
    Case("invented id on DELETE", [dec({"event": "DELETE", "id": 42})], [OLD], [], {"unknown_id"}),
    Case("negative id", [dec({"event": "DELETE", "id": -1})], [OLD], [], {"unknown_id"}),
    Case("real-looking uuid id", [dec({"event": "DELETE", "id": "3f2a9c1e"})] * 2, [OLD], [], {"invalid_decision"}, calls=2),
    Case("UPDATE without id", [dec({"event": "UPDATE", "text": NEW})], [OLD], [], {"missing_id"}),
    Case("DELETE without id", [dec({"event": "DELETE"})], [OLD], [], {"missing_id"}),
    Case("NONE with unknown id", [dec({"event": "NONE", "id": 9})], [OLD], [], {"unknown_id"}),
    # --- missing text, duplicates, conflicts -----------------------------------------
    Case("ADD without text", [dec({"event": "ADD"})], [OLD], [], {"missing_text"}),
    Case("ADD with blank text", [dec({"event": "ADD", "text": "   "})], [OLD], [], {"missing_text"}),
    Case("UPDATE without text", [dec({"event": "UPDATE", "id": 0})], [OLD], [], {"missing_text"}),
    Case("ADD of a known memory is NONE", [dec({"event": "ADD", "text": "user prefers python."})], [OLD], ["NONE"], {"duplicate_add"}),
    Case("same ADD twice", [dec({"event": "ADD", "text": TEA}, {"event": "ADD", "text": TEA + "!"})], [OLD, TEA], ["ADD"], {"duplicate_add"}),
    Case("UPDATE to the same text is NONE", [dec({"event": "UPDATE", "id": 0, "text": OLD})], [OLD], ["NONE"]),
    Case("UPDATE then DELETE of one id", [dec({"event": "UPDATE", "id": 0, "text": NEW}, {"event": "DELETE", "id": 0})], [NEW], ["UPDATE"], {"conflicting_decision"}),
    # --- contradictions never lose the old fact without recording the new one ---------
    Case("DELETE next to a rejected ADD is held back", [dec({"event": "DELETE", "id": 0}, {"event": "ADD"})], [OLD], [], {"missing_text", "delete_held_back"}),
    Case("DELETE next to an invented UPDATE is held back", [dec({"event": "DELETE", "id": 0}, {"event": "UPDATE", "id": 5, "text": NEW})], [OLD], [], {"unknown_id", "delete_held_back"}),
    Case("DELETE next to an invalid item is held back", [dec({"event": "DELETE", "id": 0}, {"event": "ADD", "text": 5})] * 2, [OLD], [], {"invalid_decision", "delete_held_back"}, calls=2),
    Case("DELETE plus ADD of the new fact both land", [dec({"event": "DELETE", "id": 0}, {"event": "ADD", "text": NEW})], [NEW], ["ADD", "DELETE"]),
    # --- fine replies, for contrast --------------------------------------------------------
    Case("empty decisions", ['{"decisions": []}'], [OLD], []),
    Case("native structured output", [{"decisions": [{"event": "ADD", "text": "User mag Käse 🧀"}]}], [OLD, "User mag Käse 🧀"], ["ADD"]),
    Case("provider returned LLMResponse with text only", [LLMResponse(text=GOOD_UPDATE)], [NEW], ["UPDATE"]),
]


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 30
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_malformed_reply(case: Case, memory_factory: Callable[..., Memory]) -> None:
    llm = ScriptedLLM()
    m = memory_factory(llm)
    m.add(OLD, user_id="u", infer=False)
    original = m.get_all(user_id="u").records[0]

    llm.queue(*case.replies)
    result = m.add("I switched to TypeScript", user_id="u")

    assert len(llm.requests) == case.calls
    assert llm.pending == 0
    assert sorted(e.event for e in result.events) == sorted(case.events)
    codes = {d.code for d in result.diagnostics}
    assert case.codes <= codes, result.diagnostics

    live = m.get_all(user_id="u", include_deleted=False).records
    assert sorted(r.text for r in live) == sorted(case.live)
    # no empty or half-written memories, and history agrees with every record
    everything = m.get_all(user_id="u", include_deleted=True).records
    for record in everything:
        assert record.text.strip()
        history = m.history(record.id, user_id="u")
        assert history and history[0].event == "ADD"
        last_text = next(h.new_text for h in reversed(history) if h.new_text is not None)
        assert last_text == record.text
        assert (history[-1].event == "DELETE") == (record.deleted_at is not None)
    assert any(r.id == original.id for r in everything)  # never hard-deleted

    # every rejection is reported as one, and nothing fails silently
    for d in result.diagnostics:
        assert d.code and d.message
        if d.code in REJECTIONS:
            assert d.detail["kind"] == "rejected", d
    for code in case.codes & REJECTIONS:
        assert any(d.code == code and d.detail["kind"] == "rejected" for d in result.diagnostics)
    if not result.events and case.name != "empty decisions":
        assert result.diagnostics, "a reply that changed nothing must say why"


REJECTIONS = {"missing_id", "missing_text", "invalid_decision", "unusable_reply",
              "conflicting_decision", "delete_held_back"}


def test_repair_request_shows_the_model_its_error(memory_factory: Callable[..., Memory]) -> None:
    llm = ScriptedLLM()
    m = memory_factory(llm)
    llm.queue('{"decisions": [{"event": "ADD", "text": "x', GOOD_ADD)
    m.add("I like tea", user_id="u")
    retry = llm.requests[1].messages
    assert retry[-2].role == "assistant" and retry[-2].content.startswith('{"decisions"')
    assert retry[-1].role == "user" and "truncated" in retry[-1].content
    assert llm.requests[1].json_schema == llm.requests[0].json_schema


def test_no_repair_when_retries_are_disabled(memory_factory: Callable[..., Memory]) -> None:
    llm = ScriptedLLM()
    m = memory_factory(llm, config={"pipeline": {"max_repair_retries": 0}})
    llm.queue("not json")
    result = m.add("I like tea", user_id="u")
    assert len(llm.requests) == 1
    assert [d.code for d in result.diagnostics if d.detail.get("kind") == "rejected"] == ["unusable_reply"]
