"""``RerankerContract``: the behaviour every ``memplane.rerankers`` provider owes.

Subclass it and supply one fixture, ``reranker``: a ready instance (pointed at a
loopback server for remote APIs)::

    class TestMyReranker(RerankerContract):
        @pytest.fixture
        def reranker(self):
            return MyReranker({"model": "small"})
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest

from memplane.providers.base import Reranker, RerankResult
from memplane_conformance.contract import ContractBase, async_native_probe

QUERY = "What is the capital city of France?"
DOCS = [
    "Bananas are a good source of potassium.",
    "Paris is the capital city of France.",
    "The stock market closed lower on Tuesday.",
    "Mount Everest is the highest mountain on Earth.",
]
RELEVANT = 1


def _check(results: list[RerankResult], n_docs: int) -> None:
    indices = [r.index for r in results]
    assert len(indices) == len(set(indices)), f"an index appears twice: {indices}"
    assert all(0 <= i < n_docs for i in indices), f"index out of range: {indices}"
    scores = [r.score for r in results]
    assert all(0.0 <= s <= 1.0 for s in scores), f"scores outside [0, 1]: {scores}"
    assert scores == sorted(scores, reverse=True), f"not best first: {scores}"


class RerankerContract(ContractBase):
    """The reranker contract. Needs the ``reranker`` fixture."""

    _memplane_suite_class: ClassVar[bool] = True

    def test_every_document_scored_best_first_in_range(self, reranker: Reranker) -> None:
        """Without ``top_n`` every input comes back once, best first, scores in [0, 1].

        Troubleshooting: map the API's relevance to [0, 1] (a sigmoid for logits), keep
        the input index, and sort descending.
        """
        results = reranker.rerank(QUERY, DOCS)
        _check(results, len(DOCS))
        assert sorted(r.index for r in results) == list(range(len(DOCS)))

    def test_obviously_relevant_document_ranks_first(self, reranker: Reranker) -> None:
        """The one passage that answers the query ranks first.

        Troubleshooting: check the query and documents are not swapped and that indices
        refer to the input order, not the API's response order.
        """
        results = reranker.rerank(QUERY, DOCS)
        assert results[0].index == RELEVANT, results

    def test_top_n(self, reranker: Reranker) -> None:
        """``top_n`` keeps the best n of the full ranking; a larger n returns everything.

        Troubleshooting: cut after sorting, and cap n at the number of documents.
        """
        full = reranker.rerank(QUERY, DOCS)
        top = reranker.rerank(QUERY, DOCS, top_n=2)
        _check(top, len(DOCS))
        assert [r.index for r in top] == [r.index for r in full[:2]]
        assert len(reranker.rerank(QUERY, DOCS, top_n=50)) == len(DOCS)

    def test_ties_keep_input_order(self, reranker: Reranker) -> None:
        """Identical documents get equal scores and keep their input order.

        Troubleshooting: use a stable sort on score alone (Python's ``sorted`` with
        ``key=lambda r: -r.score``).
        """
        docs = ["Paris is the capital city of France.", "Cats sleep a lot.",
                "Paris is the capital city of France."]
        results = reranker.rerank(QUERY, docs)
        _check(results, len(docs))
        twins = [r for r in results if r.index in (0, 2)]
        assert twins[0].score == pytest.approx(twins[1].score, abs=1e-6)
        assert [r.index for r in twins] == [0, 2]

    def test_empty_input(self, reranker: Reranker) -> None:
        """No documents give no results, without a call that could fail.

        Troubleshooting: return ``[]`` early; many APIs reject empty document lists.
        """
        assert reranker.rerank(QUERY, []) == []

    def test_deterministic(self, reranker: Reranker) -> None:
        """The same input gives the same order twice.

        Troubleshooting: use temperature 0 / deterministic scoring.
        """
        first = [r.index for r in reranker.rerank(QUERY, DOCS)]
        assert [r.index for r in reranker.rerank(QUERY, DOCS)] == first

    def test_async_rerank_mirrors_sync(self, reranker: Reranker) -> None:
        """``arerank`` returns what ``rerank`` returns.

        Troubleshooting: share request building between the sync and async paths; declare
        ``async_native`` only when ``arerank`` uses an async client of its own.
        """
        sync = [r.index for r in reranker.rerank(QUERY, DOCS, top_n=3)]
        with async_native_probe(reranker, Reranker, {"arerank": "rerank"}):
            asy = asyncio.run(reranker.arerank(QUERY, DOCS, top_n=3))
        assert [r.index for r in asy] == sync
