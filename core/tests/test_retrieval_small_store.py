"""The default fusion on a small personal store (a handful of memories per user),
where BM25 statistics are meaningless: one shared common word must not outrank a
clearly closer memory, and scores must say how relevant a hit is, not its rank.

The embedder here is a real Embedder with fixed vectors: each memory is its own
unit axis, and each query is built to have chosen cosines with the memories (the
ones all-MiniLM-L6-v2 gives for the same texts), so the vector side is exact and
the keyword side is the store's own FTS5 / in-memory keyword search.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import ClassVar

import pytest

from memplane.llms.scripted import ScriptedLLM
from memplane.memory import Memory
from memplane.plugins.hooks import PluginManager
from memplane.providers.base import Embedder, Purpose, Vectors, VectorStore

LISBON = "User lives in Lisbon"
PYTHON = "User prefers Python for data analysis"
DOG = "User has a dog named Bruno"
PEANUTS = "User is allergic to peanuts"
MEMORIES = [LISBON, PYTHON, DOG, PEANUTS]

# query -> cosine with each memory (all-MiniLM-L6-v2's values for these texts)
QUERIES: dict[str, dict[str, float]] = {
    # "is" is its only shared word with PEANUTS; LISBON is the clear vector winner
    "Which city is home?": {LISBON: 0.38, PYTHON: -0.05, DOG: 0.05, PEANUTS: 0.03},
    "Lisbon": {LISBON: 0.75, PYTHON: -0.04, DOG: 0.11, PEANUTS: -0.04},
    "quantum chromodynamics lecture": {LISBON: -0.09, PYTHON: 0.07, DOG: 0.09, PEANUTS: 0.04},
}


class AxisEmbedder(Embedder):
    """Memory i is the unit vector on axis i + 1; a query is the mix of those axes
    with its chosen cosines, topped up to unit length on axis 0."""

    name: ClassVar[str] = "axis_table"

    @property
    def dimension(self) -> int:
        return len(MEMORIES) + 1

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        return [self._one(t) for t in texts]

    def _one(self, text: str) -> list[float]:
        vector = [0.0] * self.dimension
        if text in MEMORIES:
            vector[MEMORIES.index(text) + 1] = 1.0
            return vector
        cosines = QUERIES[text]  # an unknown text is a bug in the test
        for memory, cosine in cosines.items():
            vector[MEMORIES.index(memory) + 1] = cosine
        vector[0] = math.sqrt(1.0 - sum(c * c for c in cosines.values()))
        return vector


def open_memory(store: VectorStore, search: dict[str, object] | None = None) -> Memory:
    return Memory({"search": search or {}}, llm=ScriptedLLM(), embedder=AxisEmbedder(),
                  vector_store=store, plugins=PluginManager(autoload=False))


@pytest.fixture
def small(store: VectorStore) -> Iterator[Memory]:
    with open_memory(store) as m:
        m.add(MEMORIES, user_id="alice", infer=False)
        yield m


def test_one_common_shared_word_does_not_beat_the_clear_vector_winner(small: Memory) -> None:
    hits = small.search("Which city is home?", user_id="alice", explain=True)
    assert hits[0].text == LISBON
    peanuts = next(h for h in hits if h.text == PEANUTS)
    assert peanuts.signals["keyword_coverage"] == pytest.approx(1 / 4)  # "is" of 4 terms
    # documented formula: v + (1 - v) * w * e, w = 1/2, e = 1 * sqrt(1/4)
    assert hits[0].score == pytest.approx(0.38)
    assert peanuts.score == pytest.approx(0.03 + 0.97 * 0.5 * 0.5)


def test_rank_fusion_is_what_lets_the_common_word_win(small: Memory, store: VectorStore) -> None:
    """The failure the default avoids, still reachable with fusion='rrf'."""
    with open_memory(store, {"fusion": "rrf"}) as rrf:
        assert rrf.search("Which city is home?", user_id="alice")[0].text == PEANUTS


def test_scores_are_absolute_not_ranks(small: Memory) -> None:
    unrelated = small.search("quantum chromodynamics lecture", user_id="alice")
    assert unrelated and max(h.score for h in unrelated) < 0.1  # the best of nothing is still low
    assert small.search("quantum chromodynamics lecture", user_id="alice", threshold=0.5) == []
    exact = small.search("Lisbon", user_id="alice", threshold=0.5)
    assert [h.text for h in exact] == [LISBON]
    assert exact[0].score == pytest.approx(0.75 + 0.25 * 0.5 * 1.0)  # named and close: near 1
    assert [h.text for h in small.search("Which city is home?", user_id="alice", threshold=0.3)] == [LISBON]
