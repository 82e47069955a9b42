"""The `llm` reranker: prompt and schema sent, reply parsing, scores, ties, failures."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest

from memplane.errors import ConfigurationError, ProviderError, ValidationError
from memplane.models import ChatMessage, Usage
from memplane.plugins.registry import load_provider_class
from memplane.providers.base import LLM, LLMResponse, Reranked
from memplane.rerankers.llm import SCHEMA, LLMReranker, parse_grades


class ReplayLLM(LLM):
    """Answers with queued replies and records every request (a test double for the
    LLM the reranker depends on; the reranker itself runs for real)."""

    name: ClassVar[str] = "replay"

    def __init__(self, replies: Sequence[str | dict[str, Any]], *, native: bool = False) -> None:
        super().__init__()
        self.replies = list(replies)
        self.native = native
        self.requests: list[dict[str, Any]] = []

    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "response",
        max_tokens: int | None = None,
    ) -> LLMResponse:
        self.requests.append(
            {"messages": list(messages), "schema": json_schema, "max_tokens": max_tokens}
        )
        if not self.replies:
            raise AssertionError("the reranker called the LLM more often than expected")
        reply = self.replies.pop(0)
        usage = Usage(prompt_tokens=100, completion_tokens=10)
        if isinstance(reply, dict):
            if self.native:
                return LLMResponse(text=json.dumps(reply), structured=reply, usage=usage)
            reply = json.dumps(reply)
        return LLMResponse(text=reply, usage=usage)


DOCS = ["Alice likes tea", "Bob plays chess", "Alice moved to Paris", "The sky is blue"]


def grades(*pairs: tuple[int, int]) -> dict[str, Any]:
    return {"scores": [{"index": i, "score": s} for i, s in pairs]}


def test_entry_point_loads_the_reranker() -> None:
    assert load_provider_class("rerankers", "llm") is LLMReranker


def test_orders_by_grade_and_maps_grades_to_unit_interval() -> None:
    llm = ReplayLLM([grades((0, 3), (1, 0), (2, 9), (3, 5))], native=True)
    results = LLMReranker(llm=llm).rerank("where does Alice live?", DOCS)
    assert [r.index for r in results] == [2, 3, 0, 1]
    assert [r.score for r in results] == pytest.approx([0.9, 0.5, 0.3, 0.0])


def test_sends_the_schema_the_query_and_numbered_passages() -> None:
    llm = ReplayLLM([grades((0, 1), (1, 1), (2, 1), (3, 1))])
    LLMReranker(llm=llm).rerank("where does Alice live?", DOCS)
    request = llm.requests[0]
    assert request["schema"] == SCHEMA
    user = request["messages"][-1].content
    assert "where does Alice live?" in user
    for i, doc in enumerate(DOCS):
        assert f"[{i}] {doc}" in user
    assert request["max_tokens"] and request["max_tokens"] > 0


def test_equal_scores_keep_input_order() -> None:
    llm = ReplayLLM([grades((3, 7), (1, 7), (0, 2), (2, 7))])
    results = LLMReranker(llm=llm).rerank("q", DOCS)
    assert [r.index for r in results] == [1, 2, 3, 0]


def test_top_n_limits_and_zero_returns_nothing() -> None:
    llm = ReplayLLM([grades((0, 1), (1, 2), (2, 3), (3, 4))] * 2)
    reranker = LLMReranker(llm=llm)
    assert [r.index for r in reranker.rerank("q", DOCS, top_n=2)] == [3, 2]
    assert reranker.rerank("q", DOCS, top_n=0) == []


def test_no_documents_makes_no_llm_call() -> None:
    llm = ReplayLLM([])
    assert LLMReranker(llm=llm).rerank("q", []) == []
    assert llm.requests == []


@pytest.mark.parametrize(
    "reply",
    [
        '```json\n{"scores": [{"index": 0, "score": 8}, {"index": 1, "score": 2}]}\n```',
        'Sure! Here are the grades: {"scores": [{"index": 0, "score": 8}, {"index": 1, "score": 2}]} Hope it helps.',
        '[{"index": 0, "score": 8}, {"index": 1, "score": 2}]',
        '{"scores": [8, 2]}',
        '{"0": 8, "1": "2"}',
        '{"scores": [{"index": "0", "score": "8"}, {"index": 1, "score": 2}]}',
        '{"grades": [{"passage": 0, "grade": 8}, {"passage": 1, "grade": 2}]}',
        '{"scores": [{"index": 0, "score": 0.8}, {"index": 1, "score": 0.2}]}',
    ],
)
def test_tolerant_parsing_of_reply_shapes(reply: str) -> None:
    llm = ReplayLLM([reply])
    results = LLMReranker(llm=llm).rerank("q", DOCS[:2])
    assert [(r.index, round(r.score, 6)) for r in results] == [(0, 0.8), (1, 0.2)]


def test_out_of_range_grades_are_clamped_and_bad_indices_ignored() -> None:
    reply = '{"scores": [{"index": 0, "score": 14}, {"index": 1, "score": -3}, {"index": 9, "score": 10}, {"index": 0, "score": 1}]}'
    results = LLMReranker(llm=ReplayLLM([reply])).rerank("q", DOCS[:2])
    assert [(r.index, r.score) for r in results] == [(0, 1.0), (1, 0.0)]
    for r in results:
        assert 0.0 <= r.score <= 1.0


def test_ungraded_passages_follow_graded_ones_in_input_order() -> None:
    llm = ReplayLLM([grades((2, 0))])
    results = LLMReranker(llm=llm).rerank("q", DOCS)
    assert [r.index for r in results] == [2, 0, 1, 3]
    assert all(r.score == 0.0 for r in results)


def test_repair_retry_shows_the_error_then_succeeds() -> None:
    llm = ReplayLLM(["I think the first one is best.", grades((0, 6), (1, 4))])
    reranker = LLMReranker(llm=llm)
    results = reranker.rerank("q", DOCS[:2])
    assert [r.index for r in results] == [0, 1]
    assert len(llm.requests) == 2
    retry = llm.requests[1]["messages"]
    assert retry[-2].role == "assistant" and retry[-2].content == "I think the first one is best."
    assert "not usable" in retry[-1].content
    assert isinstance(results, Reranked)  # the cost travels with the results
    assert results.usage.llm_calls == 2
    assert results.usage.prompt_tokens == 200
    assert not hasattr(reranker, "last_usage")


def test_unusable_reply_raises_a_provider_error_after_the_retry() -> None:
    llm = ReplayLLM(["", "still nothing"])
    with pytest.raises(ProviderError, match="could not read grades"):
        LLMReranker(llm=llm).rerank("q", DOCS[:2])
    assert len(llm.requests) == 2


def test_input_order_fallback_keeps_candidates() -> None:
    llm = ReplayLLM(["nope"])
    reranker = LLMReranker({"on_failure": "input_order", "repair_retries": 0}, llm=llm)
    results = reranker.rerank("q", DOCS)
    assert [r.index for r in results] == [0, 1, 2, 3]


def test_batches_grade_every_document_with_global_indices() -> None:
    llm = ReplayLLM([grades((0, 1), (1, 9)), grades((0, 5), (1, 2)), grades((0, 7))])
    docs = [*DOCS, "extra"]
    results = LLMReranker({"batch_size": 2}, llm=llm).rerank("q", docs)
    assert [r.index for r in results] == [1, 4, 2, 3, 0]
    assert len(llm.requests) == 3
    assert "[0] extra" in llm.requests[2]["messages"][-1].content


def test_long_documents_are_cut() -> None:
    llm = ReplayLLM([grades((0, 5))])
    LLMReranker({"max_document_chars": 50}, llm=llm).rerank("q", ["x" * 500])
    assert "x" * 51 not in llm.requests[0]["messages"][-1].content


def test_bad_arguments_are_validation_errors() -> None:
    reranker = LLMReranker(llm=ReplayLLM([]))
    with pytest.raises(ValidationError):
        reranker.rerank("  ", DOCS)
    with pytest.raises(ValidationError):
        reranker.rerank("q", DOCS, top_n=-1)


def test_without_an_llm_the_error_says_how_to_configure_one() -> None:
    with pytest.raises(ConfigurationError, match="binds its own LLM"):
        LLMReranker().rerank("q", DOCS)


def test_bind_llm_is_used_unless_one_was_given() -> None:
    bound = ReplayLLM([grades((0, 5))])
    reranker = LLMReranker()
    reranker.bind_llm(bound)
    reranker.rerank("q", DOCS[:1])
    assert len(bound.requests) == 1

    explicit = ReplayLLM([grades((0, 5))])
    other = ReplayLLM([])
    reranker = LLMReranker(llm=explicit)
    reranker.bind_llm(other)
    reranker.rerank("q", DOCS[:1])
    assert len(explicit.requests) == 1 and other.requests == []


def test_unknown_config_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="batch"):
        LLMReranker({"batchsize": 3})


def test_parse_grades_rejects_replies_without_grades() -> None:
    with pytest.raises(ValueError):
        parse_grades(LLMResponse(text='{"scores": []}'), 3)
    with pytest.raises(ValueError):
        parse_grades(LLMResponse(text='{"scores": [{"index": 7, "score": 3}]}'), 3)


async def test_async_rerank_matches_sync() -> None:
    reply = grades((0, 3), (1, 0), (2, 9), (3, 5))
    sync = LLMReranker(llm=ReplayLLM([reply])).rerank("q", DOCS)
    async_ = await LLMReranker(llm=ReplayLLM([reply])).arerank("q", DOCS)
    assert async_ == sync


def test_memory_binds_its_llm_and_search_follows_the_grades(tmp_path: Any) -> None:
    """Through Memory: the reranker grades with Memory's own LLM and its order wins."""
    from memplane.embedders.hashing import HashingEmbedder
    from memplane.llms.scripted import ScriptedLLM
    from memplane.memory import Memory
    from memplane.stores.sqlite import SQLiteStore

    llm = ScriptedLLM()
    memory = Memory(
        llm=llm,
        embedder=HashingEmbedder(),
        vector_store=SQLiteStore({"path": str(tmp_path / "m.db")}),
        reranker=LLMReranker(),
    )
    with memory:
        for text in DOCS:
            memory.add(text, user_id="alice", infer=False)
        candidates = [h.text for h in memory.search("Alice", user_id="alice", limit=4)]
        # grade the candidates in reverse of the order search found them in
        llm.queue({"scores": [{"index": i, "score": i} for i in range(len(candidates))]})
        hits = memory.search("Alice", user_id="alice", limit=4, rerank=True)
    assert [h.text for h in hits] == list(reversed(candidates))
    assert hits[0].score == pytest.approx((len(candidates) - 1) / 10)
    grading = llm.requests[-1]
    assert grading.json_schema == SCHEMA
    assert "Query: Alice" in grading.prompt
