"""The full add pipeline on a real model (SmolLM2-135M, CPU).

A 135M model extracts poorly; these tests do not grade what it remembers. They
check what the provider guarantees: llama.cpp's grammar keeps every answer inside
the decision schema, usage is reported, and whatever the model decides is applied
consistently (each event matches the store and its history).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from memplane.embedders.hashing import HashingEmbedder
from memplane.errors import ProviderUnavailable
from memplane.memory import Memory
from memplane.models import ChatMessage, DecisionList, Scope
from memplane.providers.base import LLMResponse
from memplane.stores.sqlite import SQLiteStore
from memplane_llamacpp.llm import LlamaCppLLM
from memplane_llamacpp.model_files import DEFAULT_MODEL, packaged_model_path


class RecordingLlamaCpp(LlamaCppLLM):
    """The real provider, keeping every response so tests can inspect raw decisions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.responses: list[LLMResponse] = []

    def generate(self, messages: Sequence[ChatMessage], **kwargs: Any) -> LLMResponse:
        response = super().generate(messages, **kwargs)
        self.responses.append(response)
        return response


@pytest.fixture(scope="module")
def smollm2() -> Iterator[RecordingLlamaCpp]:
    try:
        packaged_model_path(DEFAULT_MODEL)
    except ProviderUnavailable as exc:
        pytest.skip(str(exc))
    llm = RecordingLlamaCpp({"context_size": 4096, "max_tokens": 200})
    yield llm
    llm.close()


SCOPE = Scope(user_id="dana")
CONVERSATION = [
    "Hi, I'm Dana. I work as a nurse in Porto and I love hiking.",
    "I moved to Lisbon last month, so I no longer live in Porto.",
    "Please forget that I love hiking.",
]


@pytest.fixture
def memory(smollm2: RecordingLlamaCpp, tmp_path: Path) -> Iterator[Memory]:
    store = SQLiteStore({"path": f"{tmp_path}/m.db"})
    mem = Memory(llm=smollm2, embedder=HashingEmbedder({"dimension": 64}), vector_store=store)
    yield mem
    mem.close()


def test_direct_answer_is_schema_valid_with_usage(smollm2: RecordingLlamaCpp) -> None:
    response = smollm2.generate(
        [ChatMessage(role="system", content="List new facts about the user as memory decisions."),
         ChatMessage(role="user", content="My cat is called Miso.")],
        json_schema=DecisionList.model_json_schema(), schema_name="decisions", max_tokens=120,
    )
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0
    if response.finish_reason != "length":
        assert response.structured is not None, response.text
        DecisionList.model_validate(response.structured)


def test_pipeline_decisions_are_schema_valid_and_applied_consistently(
    memory: Memory, smollm2: RecordingLlamaCpp
) -> None:
    for turn in CONVERSATION:
        before = len(smollm2.responses)
        result = memory.add(turn, user_id="dana")
        replies = smollm2.responses[before:]
        assert result.usage.llm_calls == len(replies) >= 1
        assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0
        for reply in replies:  # the grammar allows nothing else (unless cut at max_tokens)
            if reply.finish_reason != "length":
                assert reply.structured is not None, reply.text
                DecisionList.model_validate(reply.structured)
        for diag in result.diagnostics:  # wrong ids are the model's; bad JSON would be ours
            assert "parse" not in diag.code and "schema" not in diag.code, diag
        for event in result.events:
            if event.event == "NONE":
                continue
            [record] = memory.vector_store.get([str(event.id)], SCOPE)
            if event.event == "DELETE":
                assert record.deleted_at is not None
            else:
                assert record.text == event.text and record.deleted_at is None
            assert memory.history(str(event.id), user_id="dana")[-1].event == event.event
    everything = memory.get_all(user_id="dana", include_deleted=True).records
    alive = {r.id for r in everything
             if memory.history(r.id, user_id="dana")[-1].event != "DELETE"}
    assert {r.id for r in memory.get_all(user_id="dana").records} == alive
