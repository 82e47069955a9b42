"""The rules LLM's patterns, through its public generate() contract."""

from __future__ import annotations

import json
from datetime import date

import pytest

from memplane.llms.rules import RulesLLM, classify, to_third_person
from memplane.models import ChatMessage, DecisionList, FactList
from memplane.pipeline import prompts

TODAY = date(2024, 1, 1)


@pytest.mark.parametrize(
    ("sentence", "fact"),
    [
        ("I like sushi", "User likes sushi"),
        ("I'm a nurse.", "User is a nurse"),
        ("I’m allergic to peanuts", "User is allergic to peanuts"),
        ("My sister is Anna", "User's sister is Anna"),
        ("I really enjoy hiking", "User really enjoys hiking"),
        ("I have two cats", "User has two cats"),
        ("I watch movies on Fridays", "User watches movies on Fridays"),
        ("I went to Paris with my sister", "User went to Paris with User's sister"),
        ("Well, I study biology", "User studies biology"),
    ],
)
def test_first_person_statements_become_third_person_facts(sentence: str, fact: str) -> None:
    assert to_third_person(sentence) == fact


@pytest.mark.parametrize("sentence", ["Do you like sushi?", "I see", "I think so", "Thanks a lot", "We went out"])
def test_questions_and_small_talk_are_not_facts(sentence: str) -> None:
    assert classify(sentence) is None


@pytest.mark.parametrize(
    ("sentence", "kind"),
    [
        ("I switched to TypeScript", "change"),
        ("Now I prefer green tea", "change"),
        ("I moved to Lisbon", "change"),
        ("Actually I live in Berlin, not Munich", "change"),
        ("Forget that I like sushi", "retract"),
        ("I no longer play golf", "retract"),
        ("I don't eat meat anymore", "retract"),
        ("I do not like coffee", "fact"),
    ],
)
def test_cues_are_classified(sentence: str, kind: str) -> None:
    statement = classify(sentence)
    assert statement is not None and statement.kind == kind


def _decide(existing: list[str], message: str) -> list[dict[str, object]]:
    request = prompts.update_request(
        prompts.DEFAULT_UPDATE_PROMPT, list(enumerate(existing)),
        [{"role": "user", "content": message}], TODAY,
    )
    response = RulesLLM().generate(request, json_schema=DecisionList.model_json_schema(), schema_name="decisions")
    assert response.structured == json.loads(response.text)
    DecisionList.model_validate(response.structured)  # the contract, always
    assert response.structured is not None
    return list(response.structured["decisions"])


def test_update_targets_the_memory_of_the_same_kind() -> None:
    decisions = _decide(["User has a dog", "User prefers Python", "User lives in Oslo"], "I switched to Go")
    assert decisions == [{"event": "UPDATE", "id": 1, "text": "User prefers Go", "reason": "change cue (switched to)"}]


def test_move_updates_the_place_memory() -> None:
    decisions = _decide(["User prefers Python", "User lives in Oslo"], "I moved to Bergen last month")
    assert [(d["event"], d["id"], d["text"]) for d in decisions] == [("UPDATE", 1, "User lives in Bergen last month")]


def test_retraction_without_a_matching_memory_changes_nothing_and_says_so() -> None:
    decisions = _decide(["User prefers Python"], "Forget that I play golf")
    assert [(d["event"], d.get("id")) for d in decisions] == [("NONE", None)]
    assert str(decisions[0]["reason"]).startswith("unrecognised")


def test_change_without_anything_related_is_added() -> None:
    decisions = _decide([], "I switched to TypeScript")
    assert [(d["event"], d["text"]) for d in decisions] == [("ADD", "User switched to TypeScript")]


def test_assistant_messages_are_ignored() -> None:
    request = prompts.update_request(
        prompts.DEFAULT_UPDATE_PROMPT, [], [{"role": "assistant", "content": "I love helping you"}],
        TODAY,
    )
    assert RulesLLM().generate(request, schema_name="decisions").structured == {"decisions": []}


def test_extraction_pass_returns_facts_and_retractions() -> None:
    request = prompts.extraction_request(
        prompts.DEFAULT_EXTRACTION_PROMPT,
        [ChatMessage(role="user", content="I like jazz. Forget that I play golf. Is it late?")],
        TODAY,
    )
    response = RulesLLM().generate(request, json_schema=FactList.model_json_schema(), schema_name="facts")
    assert response.structured == {"facts": ["User likes jazz", "User no longer plays golf"]}


def test_reports_usage_and_says_it_is_approximate() -> None:
    response = RulesLLM().generate(
        prompts.update_request(prompts.DEFAULT_UPDATE_PROMPT, [], [{"role": "user", "content": "I like tea"}],
                               TODAY),
        schema_name="decisions",
    )
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0
    assert "approximate" in (RulesLLM.__doc__ or "").lower()
    assert "approximate" in RulesLLM.description
