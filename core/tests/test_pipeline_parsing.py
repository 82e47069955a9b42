"""Property tests of the parsing ladder and the plan: whatever a model returns,
parsing either yields validated decisions or says the reply is unusable, and the
plan only ever targets memories that were shown."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from memplane.models import Decision, MemoryRecord, Scope
from memplane.pipeline.decide import IdMap, plan_decisions
from memplane.pipeline.parsing import ReplyUnusable, extract_json, parse_decisions
from memplane.providers.base import LLMResponse

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["event", "action", "id", "memory_id", "text", "memory", "decisions", "reason", "x"]),
        children, max_size=4),
    max_leaves=12,
)
decision_like = st.fixed_dictionaries(
    {"event": st.sampled_from(["ADD", "UPDATE", "DELETE", "NONE", "update", "REMOVE", "MERGE", 3])},
    optional={"id": st.integers(-3, 8) | st.booleans() | st.text(max_size=3),
              "text": st.text(max_size=12) | st.integers(), "reason": st.text(max_size=5)},
)
SHOWN = IdMap([MemoryRecord(text=f"memory {i}", scope=Scope(user_id="u")) for i in range(3)])


def check(response: LLMResponse) -> None:
    try:
        parsed = parse_decisions(response)
    except ReplyUnusable as exc:
        assert str(exc)
        return
    assert all(isinstance(d, Decision) for d in parsed.decisions)
    plan = plan_decisions(parsed.decisions, SHOWN, invalid_items=len(parsed.invalid))
    shown_ids = {r.id for r in SHOWN.records}
    for step in plan.steps:
        assert step.target is None or step.target.id in shown_ids
        if step.event in ("ADD", "UPDATE"):
            assert step.text and step.text.strip()
        if step.event in ("UPDATE", "DELETE"):
            assert step.target is not None
    written = [s.target.id for s in plan.writes() if s.target is not None]
    assert len(written) == len(set(written))  # one write per memory


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_parsed_or_reported(text: str) -> None:
    check(LLMResponse(text=text))


@settings(max_examples=300, deadline=None)
@given(json_values, st.sampled_from(["{}", "```json\n{}\n```", "Here: {} thanks", "{},"]))
def test_any_json_in_any_wrapping(value: Any, wrapping: str) -> None:
    check(LLMResponse(text=wrapping.replace("{}", json.dumps(value))))


@settings(max_examples=300, deadline=None)
@given(st.lists(decision_like, max_size=6))
def test_decision_lists_only_touch_shown_memories(items: list[dict[str, Any]]) -> None:
    check(LLMResponse(text=json.dumps({"decisions": items})))
    check(LLMResponse(structured={"decisions": items}))


def test_extract_json_prefers_the_whole_text_then_fences_then_spans() -> None:
    assert extract_json('{"a": 1}')[0] == {"a": 1}
    value, notes = extract_json('x ```json\n{"a": 2}\n``` {"a": 3}')
    assert value == {"a": 2} and notes[0].code == "json_in_fence"
    value, notes = extract_json('see [1, 2,] and {"a": 4}')
    assert value == [1, 2] and notes[0].code == "json_in_text"


def test_ids_in_other_scripts_digits_are_rejected_not_crashing() -> None:
    """'²'.isdigit() is True but int('²') raises: such an id must be a diagnostic."""
    parsed = parse_decisions(LLMResponse(text=json.dumps({"decisions": [
        {"event": "DELETE", "id": "²"}, {"event": "ADD", "text": "User likes tea"}]})))
    assert [d.event for d in parsed.decisions] == ["ADD"]
    assert parsed.invalid
