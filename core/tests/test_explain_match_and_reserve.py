"""``search(explain=True)`` shows the window of a long memory its keyword evidence
came from, and hybrid search can keep vector-only's top hits in its top k
(``search.vector_reserved``). Real stores, the hashing embedder."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from memplane.fusion import Candidate, best_window, reserve_vector_slots
from memplane.llms.scripted import ScriptedLLM
from memplane.memory import Memory
from memplane.models import MemoryRecord, Scope, SearchHit

FILLER = ("Warm up for ten minutes before running intervals and keep a steady pace on the "
          "easy days so the legs recover between the harder sessions of the week. ")


def test_best_window_finds_the_fact_inside_a_long_text() -> None:
    text = FILLER * 6 + "The spare key is under the blue flowerpot by the shed. " + FILLER * 6
    window = best_window(text, "where is the spare key?", width=12)
    assert "spare key" in window and "flowerpot" in window
    assert window.startswith("… ") and window.endswith(" …") and len(window.split()) == 14
    assert best_window("short text about keys", "keys", width=12) == "short text about keys"
    # no query term anywhere: the opening, cut
    opening = best_window(text, "zebra", width=5)
    assert opening == " ".join(text.split()[:5]) + " …"


def test_explain_shows_the_matching_window_and_the_shares(memory_factory: Callable[..., Memory]) -> None:
    m = memory_factory(ScriptedLLM())
    long_turn = FILLER * 8 + "By the way my passport number ends in 4471 and expires in May. " + FILLER * 8
    m.add([long_turn, "User likes long walks along the river"], user_id="u", infer=False)
    hits = m.search("passport number 4471", user_id="u", explain=True)
    top = hits[0]
    assert top.text == long_turn
    assert top.match is not None and "4471" in top.match and "passport" in top.match
    assert len(top.match.split()) < len(long_turn.split()) // 4
    shares = {k: v for k, v in top.signals.items() if k.startswith("share_")}
    assert set(shares) == {"share_vector", "share_keyword"} and sum(shares.values()) == pytest.approx(1.0)
    assert shares["share_keyword"] == pytest.approx(top.signals["keyword"] / top.score)
    # without explain: neither signals nor a match
    assert all(h.match is None and h.signals == {} for h in m.search("passport number 4471", user_id="u"))
    # a hit with no keyword evidence has no match window
    walks = next(h for h in m.search("river walks", user_id="u", explain=True, hybrid=False))
    assert walks.match is None


def _cands(ids: list[str]) -> list[Candidate]:
    return [Candidate(MemoryRecord(id=i, text=i, scope=Scope(user_id="u")), score=1.0 - n / 100)
            for n, i in enumerate(ids)]


def _vec(ids: list[str]) -> list[SearchHit]:
    return [SearchHit(record=MemoryRecord(id=i, text=i, scope=Scope(user_id="u")), score=0.9) for i in ids]


def test_reserved_vector_hits_take_the_last_places_of_the_top() -> None:
    fused = _cands(["k1", "k2", "k3", "k4", "v1", "k5", "v2"])
    out = reserve_vector_slots(fused, _vec(["v2", "v1", "x"]), reserved=2, depth=4)
    ids = [c.record.id for c in out]
    assert ids == ["k1", "k2", "v1", "v2", "k3", "k4", "k5"]
    scores = [c.score for c in out]
    assert scores == sorted(scores, reverse=True)  # scores still fall with rank
    assert out[3].signals["vector_reserved"] == 1.0
    # already inside the top: nothing moves
    same = _cands(["v1", "k1", "v2"])
    assert reserve_vector_slots(same, _vec(["v1", "v2"]), 2, 3) == same
    assert reserve_vector_slots(same, _vec(["v1"]), 0, 3) == same


def test_config_keeps_vector_only_top_hits_in_hybrid_results(memory_factory: Callable[..., Memory]) -> None:
    texts = [f"note {i}: the cello lesson moved to room {i}" for i in range(12)] + ["I play string instruments"]
    plain = memory_factory(ScriptedLLM())
    plain.add(texts, user_id="u", infer=False)
    vector_top = [h.id for h in plain.search("cello lesson room", user_id="u", hybrid=False, limit=3)]
    reserved = memory_factory(ScriptedLLM(), config={"search": {"vector_reserved": 3, "vector_reserved_depth": 5}})
    top5 = [h.id for h in reserved.search("cello lesson room", user_id="u", limit=5)]
    assert set(vector_top) <= set(top5)


def test_newer_first_reorders_near_ties_inside_the_top_only() -> None:
    from datetime import UTC, datetime

    from memplane.fusion import newer_first

    def cand(rid: str, score: float, month: int) -> Candidate:
        record = MemoryRecord(id=rid, text=rid, scope=Scope(user_id="u"),
                              observed_at=datetime(2024, month, 1, tzinfo=UTC))
        return Candidate(record, score=score)

    ordered = [cand("old", 0.80, 1), cand("new", 0.77, 6), cand("far", 0.50, 9), cand("out", 0.49, 12)]
    out = newer_first(ordered, margin=0.05, depth=3)
    assert [c.record.id for c in out] == ["new", "old", "far", "out"]  # "out" is past the depth
    assert [c.score for c in out] == [0.80, 0.77, 0.50, 0.49]  # scores still fall with rank
    assert out[0].signals["newer_first"] == pytest.approx(0.03)
    same = [cand("a", 0.9, 1), cand("b", 0.8, 6)]
    assert [c.record.id for c in newer_first(same, 0.05, 10)] == ["a", "b"]  # not a near tie
    assert newer_first(same, 0.0, 10) == same
