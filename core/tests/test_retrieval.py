"""Hybrid retrieval: fusion formulas, explain, rerank, recency, time filters,
non-English text, and the [0, 1] score range, through Memory on both stores.
The small-store behaviour of the default fusion is in test_retrieval_small_store.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memplane.config import SearchConfig
from memplane.errors import ConfigurationError, UnsupportedCapability
from memplane.llms.scripted import ScriptedLLM
from memplane.memory import Memory
from memplane.models import MemoryRecord, Scope, SearchHit
from memplane.providers.base import ProviderConfig, Reranker, RerankResult
from memplane.retrieval import fuse, query_coverage, recency_signal
from memplane.stores.inmemory import InMemoryStore


def hit(rid: str, score: float, text: str | None = None) -> SearchHit:
    record = MemoryRecord(id=rid, text=text if text is not None else rid, scope=Scope(user_id="u"))
    return SearchHit(record=record, score=score)


def test_boost_formula() -> None:
    """score = v + (1 - v) * w * e, v = max(0, 2 * vector_score - 1),
    e = odds(k) / max odds(k) * sqrt(coverage), w = kw / (vw + kw)."""
    settings = SearchConfig(fusion="boost", vector_weight=3.0, keyword_weight=1.0)
    vector = [hit("a", 0.8, "red apple pie"), hit("b", 0.7, "green apple tart"), hit("c", 0.4, "blue sky")]
    keyword = [hit("b", 0.75, "green apple tart"), hit("a", 0.5, "red apple pie")]
    fused = {c.record.id: c for c in fuse({"vector": vector, "keyword": keyword},
                                          {"vector": 3.0, "keyword": 1.0}, settings, pool=50,
                                          query="Green APPLE tart recipe")}
    w = 1 / 4
    odds_b, odds_a = 0.75 / 0.25, 0.5 / 0.5
    v_b, v_a = 2 * 0.7 - 1, 2 * 0.8 - 1
    e_b = 1.0 * (3 / 4) ** 0.5  # "green", "apple", "tart" of 4 distinct query terms
    e_a = odds_a / odds_b * (1 / 4) ** 0.5  # "apple" only
    assert fused["b"].score == pytest.approx(v_b + (1 - v_b) * w * e_b)
    assert fused["a"].score == pytest.approx(v_a + (1 - v_a) * w * e_a)
    assert fused["c"].score == 0.0  # cos < 0: no similarity at all
    assert fused["b"].signals == pytest.approx({
        "vector": v_b, "vector_score": 0.7, "keyword": (1 - v_b) * w * e_b, "keyword_score": 0.75,
        "keyword_strength": 1.0, "keyword_coverage": 3 / 4, "keyword_confidence": 1.0})
    assert "keyword" not in fused["c"].signals


def test_boost_keyword_only_candidate_takes_the_vector_floor() -> None:
    vector = [hit("a", 0.9), hit("b", 0.6)]
    keyword = [hit("z", 0.5, "zebra")]
    fused = {c.record.id: c for c in fuse({"vector": vector, "keyword": keyword},
                                          {"vector": 1.0, "keyword": 1.0}, SearchConfig(), pool=2,
                                          query="zebra")}
    v = 2 * 0.6 - 1
    assert fused["z"].signals["vector_score"] == 0.6
    assert fused["z"].score == pytest.approx(v + (1 - v) * 0.5 * 1.0)


def test_boost_without_keyword_weight_is_the_clipped_cosine() -> None:
    fused = fuse({"vector": [hit("a", 0.8), hit("b", 0.3)], "keyword": [hit("b", 0.9)]},
                 {"vector": 1.0, "keyword": 0.0}, SearchConfig(keyword_weight=0.0), pool=10, query="b")
    assert [(c.record.id, c.score) for c in fused] == [("a", pytest.approx(0.6)), ("b", 0.0)]


@settings(derandomize=True)
@given(
    vector=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=8),
    keyword=st.lists(st.floats(0.0, 1.0), max_size=8),
    weights=st.tuples(st.floats(0.0, 5.0), st.floats(0.01, 5.0)),
)
def test_boost_keyword_evidence_only_raises_and_stays_in_range(
    vector: list[float], keyword: list[float], weights: tuple[float, float]
) -> None:
    texts = ["tea cake", "tea", "cake and jam", "jam", "tea jam cake", "x", "cake", "tea tea"]
    vhits = [hit(f"m{i}", s, texts[i]) for i, s in enumerate(vector)]
    khits = [hit(f"m{i}", s, texts[i]) for i, s in enumerate(keyword)]
    settings = SearchConfig(vector_weight=weights[0], keyword_weight=weights[1])
    fused = fuse({"vector": vhits, "keyword": khits}, {"vector": weights[0], "keyword": weights[1]},
                 settings, pool=8, query="tea cake")
    floor = min((s for s in vector if s > 0), default=0.0)
    for c in fused:
        assert 0.0 <= c.score <= 1.0
        raw = next((h.score for h in vhits if h.id == c.record.id and h.score > 0), floor)
        base = max(0.0, 2 * raw - 1) if weights[0] > 0 else 0.0  # vector_weight 0: keyword only
        assert c.score >= base - 1e-12
        assert c.score == pytest.approx(c.signals["vector"] + c.signals.get("keyword", 0.0))


def test_query_coverage_is_language_neutral() -> None:
    assert query_coverage({"tea", "cake"}, "TEA and biscuits") == 0.5
    assert query_coverage({"寿司"}, "我喜欢寿司") == 1.0  # bigrams for unspaced scripts
    assert query_coverage({"käsespätzle", "mag"}, "Ich mag KÄSESPÄTZLE") == 1.0
    assert query_coverage(set(), "anything") == 0.0


def test_rrf_formula_and_normalisation() -> None:
    settings = SearchConfig(fusion="rrf", rrf_k=60)
    vector = [hit("a", 0.9), hit("b", 0.8), hit("c", 0.7)]
    keyword = [hit("b", 1.0), hit("d", 0.4)]
    fused = {c.record.id: c for c in fuse({"vector": vector, "keyword": keyword},
                                          {"vector": 1.0, "keyword": 1.0}, settings, pool=50)}
    norm = 2 / 61
    assert fused["b"].score == pytest.approx((1 / 62 + 1 / 61) / norm)
    assert fused["a"].score == pytest.approx((1 / 61) / norm)
    assert fused["d"].score == pytest.approx((1 / 62) / norm)
    assert fused["b"].signals == pytest.approx(
        {"vector": 1 / 62 / norm, "vector_score": 0.8, "vector_rank": 2.0,
         "keyword": 1 / 61 / norm, "keyword_score": 1.0, "keyword_rank": 1.0})
    assert "keyword" not in fused["a"].signals
    top = fuse({"vector": [hit("x", 0.5)], "keyword": [hit("x", 0.1)]},
               {"vector": 1.0, "keyword": 1.0}, settings, pool=50)
    assert top[0].score == pytest.approx(1.0)


def test_weighted_fusion_with_floor_for_full_pools() -> None:
    settings = SearchConfig(fusion="weighted", vector_weight=3.0, keyword_weight=1.0)
    vector = [hit("a", 0.9), hit("b", 0.6)]  # a full pool of 2
    keyword = [hit("c", 0.8)]  # not full
    fused = {c.record.id: c.score for c in fuse({"vector": vector, "keyword": keyword},
                                                {"vector": 3.0, "keyword": 1.0}, settings, pool=2)}
    assert fused["a"] == pytest.approx(3 * 0.9 / 4)
    assert fused["c"] == pytest.approx((3 * 0.6 + 1 * 0.8) / 4)  # vector floor = pool minimum


def test_a_signal_without_hits_does_not_deflate_scores() -> None:
    signals: dict[str, Sequence[SearchHit]] = {"vector": [hit("a", 0.7)], "keyword": []}
    weights = {"vector": 1.0, "keyword": 1.0}
    assert fuse(signals, weights, SearchConfig(fusion="rrf"), pool=10)[0].score == pytest.approx(1.0)
    # boost: exactly the clipped cosine, as with vector-only search
    assert fuse(signals, weights, SearchConfig(), pool=10, query="a")[0].score == pytest.approx(0.4)


def test_recency_signal_halves_per_half_life() -> None:
    now = datetime(2024, 1, 31, tzinfo=UTC)
    r = MemoryRecord(text="x", scope=Scope(user_id="u"), observed_at=now - timedelta(days=30))
    assert recency_signal(r, now, 30.0) == pytest.approx(0.5)


@pytest.fixture
def m(memory_factory: Callable[..., Memory]) -> Memory:
    return memory_factory(ScriptedLLM())


def test_explain_shows_each_signal(m: Memory) -> None:
    m.add(["User plays the cello", "User adopted a cat named Biscuit"], user_id="u", infer=False)
    hits = m.search("Biscuit", user_id="u", explain=True)
    top = hits[0]
    assert top.text == "User adopted a cat named Biscuit"
    assert {"vector", "vector_score", "keyword", "keyword_score", "keyword_strength",
            "keyword_coverage"} <= set(top.signals)
    assert top.score == pytest.approx(top.signals["vector"] + top.signals["keyword"])
    assert top.signals["vector"] == pytest.approx(max(0.0, 2 * top.signals["vector_score"] - 1))
    assert top.signals["keyword_coverage"] == 1.0 and top.signals["keyword_strength"] == 1.0
    assert all(h.signals == {} for h in m.search("Biscuit", user_id="u"))
    # each signal's share of the final score
    assert top.signals["share_vector"] + top.signals["share_keyword"] == pytest.approx(1.0)
    assert top.signals["share_keyword"] == pytest.approx(top.signals["keyword"] / top.score)


def test_recency_counts_from_the_newest_observation_for_backfilled_data(
    memory_factory: Callable[..., Memory],
) -> None:
    """Data observed years ago: age counts back from its newest observation, so the
    newer of two statements still gets the full recency signal."""
    m = memory_factory(ScriptedLLM(), config={"search": {"recency_weight": 0.3, "recency_half_life_days": 30}})
    m.add("User works at Acme", user_id="u", infer=False, observed_at=datetime(2021, 1, 5, tzinfo=UTC))
    m.add("User works at Initech", user_id="u", infer=False, observed_at=datetime(2021, 3, 6, tzinfo=UTC))
    hits = {h.text: h for h in m.search("where does the user work", user_id="u", explain=True)}
    assert hits["User works at Initech"].signals["recency"] == pytest.approx(0.3)
    assert hits["User works at Acme"].signals["recency"] == pytest.approx(0.3 * 0.5 ** (60 / 30))
    top = max(hits.values(), key=lambda h: h.score)
    assert top.text == "User works at Initech"
    assert sum(v for k, v in top.signals.items() if k.startswith("share_")) == pytest.approx(1.0)


def test_keyword_only_candidates_reach_the_results(memory_factory: Callable[..., Memory]) -> None:
    m = memory_factory(ScriptedLLM(), config={"search": {"candidate_pool": 1}})
    m.add(["User's passport number ends in 4471", "User likes long walks along the river at dawn"],
          user_id="u", infer=False)
    texts = {h.text: h for h in m.search("4471", user_id="u", limit=2, explain=True)}
    assert "User's passport number ends in 4471" in texts
    assert texts["User's passport number ends in 4471"].signals.get("keyword", 0) > 0


def test_vector_only_when_hybrid_is_off(m: Memory) -> None:
    m.add(["User plays the cello"], user_id="u", infer=False)
    hits = m.search("cello", user_id="u", hybrid=False, explain=True)
    assert set(hits[0].signals) == {"vector", "vector_score", "share_vector"}
    assert hits[0].signals["share_vector"] == 1.0
    assert hits[0].score == pytest.approx(max(0.0, 2 * hits[0].signals["vector_score"] - 1))


@pytest.mark.parametrize(
    ("texts", "query", "expected"),
    [
        (["我喜欢寿司", "我住在上海", "我的妹妹叫小红"], "寿司", "我喜欢寿司"),
        (["Ich wohne in München", "Ich mag Käsespätzle", "Mein Bruder heißt Jonas"], "Käsespätzle", "Ich mag Käsespätzle"),
        (["Я живу в Москве", "Я люблю чай", "Моя сестра Анна"], "чай", "Я люблю чай"),
        (["私は東京に住んでいます", "猫が好きです"], "東京", "私は東京に住んでいます"),
    ],
)
def test_non_english_text_is_found(m: Memory, texts: list[str], query: str, expected: str) -> None:
    m.add(texts, user_id="u", infer=False)
    hits = m.search(query, user_id="u", explain=True)
    assert hits[0].text == expected
    assert hits[0].signals["keyword"] > 0


def test_threshold_drops_low_scores(m: Memory) -> None:
    m.add(["User plays the cello", "User grows tomatoes"], user_id="u", infer=False)
    everything = m.search("cello", user_id="u")
    assert len(everything) == 2
    cut = (everything[0].score + everything[1].score) / 2
    assert [h.text for h in m.search("cello", user_id="u", threshold=cut)] == ["User plays the cello"]


def test_time_filters_on_observed_at(m: Memory) -> None:
    for month in (1, 3, 5):
        m.add(f"User visited city number {month}", user_id="u", infer=False,
              observed_at=datetime(2023, month, 10, tzinfo=UTC))
    hits = m.search("visited city", user_id="u",
                    filters={"observed_at": {"gte": datetime(2023, 2, 1, tzinfo=UTC),
                                             "lt": datetime(2023, 5, 1, tzinfo=UTC)}})
    assert [h.text for h in hits] == ["User visited city number 3"]


def test_recency_boost_prefers_recent_memories(memory_factory: Callable[..., Memory]) -> None:
    m = memory_factory(ScriptedLLM(), config={"search": {"recency_weight": 0.5, "recency_half_life_days": 30}})
    now = datetime.now(UTC)
    m.add("User works at Acme", user_id="u", infer=False, observed_at=now - timedelta(days=400))
    m.add("User works at Initech", user_id="u", infer=False, observed_at=now - timedelta(days=2))
    hits = m.search("where does the user work", user_id="u", explain=True)
    assert hits[0].text == "User works at Initech"
    assert hits[0].signals["recency"] > hits[1].signals["recency"]
    assert all(0 <= h.score <= 1 for h in hits)


class ReverseAlphabetical(Reranker):
    """A deterministic reranker: later in the alphabet scores higher."""

    name: ClassVar[str] = "reverse_alpha"

    class Config(ProviderConfig):
        pass

    def rerank(self, query: str, documents: Sequence[str], *, top_n: int | None = None) -> list[RerankResult]:
        order = sorted(range(len(documents)), key=lambda i: documents[i], reverse=True)
        n = len(documents)
        return [RerankResult(index=i, score=(n - rank) / n) for rank, i in enumerate(order)][:top_n]


def test_rerank_reorders_and_reports_both_scores(memory_factory: Callable[..., Memory]) -> None:
    m = memory_factory(ScriptedLLM(), reranker=ReverseAlphabetical())
    m.add(["alpha tea", "beta tea", "gamma tea"], user_id="u", infer=False)
    plain = m.search("tea", user_id="u")
    reranked = m.search("tea", user_id="u", rerank=True, explain=True)
    assert [h.text for h in reranked] == ["gamma tea", "beta tea", "alpha tea"]
    assert reranked[0].score == pytest.approx(1.0) and "fused" in reranked[0].signals
    assert {h.text for h in plain} == {h.text for h in reranked}


def test_llm_reranker_from_config_uses_the_memory_llm(memory_factory: Callable[..., Memory]) -> None:
    llm = ScriptedLLM()
    m = memory_factory(llm, config={"reranker": "llm", "search": {"rerank": True}})
    m.add(["User drinks green tea", "User drinks black coffee"], user_id="u", infer=False)
    llm.queue({"scores": [{"index": 0, "score": 2}, {"index": 1, "score": 9}]})
    hits = m.search("drinks", user_id="u", explain=True)
    assert len(llm.requests) == 1
    assert hits[0].score == pytest.approx(0.9) and hits[1].score == pytest.approx(0.2)
    assert hits[0].signals["rerank"] == pytest.approx(0.9)


def test_rerank_without_a_reranker_is_a_configuration_error(m: Memory) -> None:
    with pytest.raises(ConfigurationError, match="reranker"):
        m.search("x", user_id="u", rerank=True)


def test_hybrid_requested_on_a_store_without_keyword_search(memory_factory: Callable[..., Memory]) -> None:
    class VectorOnly(InMemoryStore):
        capabilities = frozenset({"atomic_apply"})

    from memplane.embedders.hashing import HashingEmbedder
    from memplane.plugins.hooks import PluginManager

    m = Memory(llm=ScriptedLLM(), embedder=HashingEmbedder({"dimension": 32}), vector_store=VectorOnly(),
               plugins=PluginManager(autoload=False))
    m.add("User plays the cello", user_id="u", infer=False)
    assert m.search("cello", user_id="u")[0].text == "User plays the cello"  # default: vector only
    with pytest.raises(UnsupportedCapability, match="keyword"):
        m.search("cello", user_id="u", hybrid=True)


@pytest.mark.parametrize("config", [
    {"search": {"fusion": "boost"}},
    {"search": {"fusion": "boost", "vector_weight": 0.0}},
    {"search": {"fusion": "rrf"}},
    {"search": {"fusion": "weighted", "vector_weight": 0.7, "keyword_weight": 0.3}},
    {"search": {"recency_weight": 0.3}},
])
def test_scores_stay_in_unit_range(memory_factory: Callable[..., Memory], config: dict[str, Any]) -> None:
    m = memory_factory(ScriptedLLM(), config=config)
    m.add([f"note {i}: {'tea ' * (i % 4)}and {'cake ' * (i % 3)}" for i in range(25)], user_id="u", infer=False)
    for query in ("tea", "cake tea", "note 7", "nothing matches this"):
        hits = m.search(query, user_id="u", limit=25)
        assert all(0.0 <= h.score <= 1.0 for h in hits)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
