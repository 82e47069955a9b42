"""The pure scoring of hybrid search (memplane.fusion): length normalisation of
keyword evidence, the query's keyword confidence (agreement with the vector list),
the reference time of recency, and each signal's share of the final score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from memplane.fusion import (
    BoostParams,
    Candidate,
    agreement,
    boost,
    explain_shares,
    length_factor,
    reference_time,
)
from memplane.models import MemoryRecord, Scope, SearchHit
from memplane.retrieval import apply_recency


def hit(rid: str, score: float, text: str | None = None) -> SearchHit:
    record = MemoryRecord(id=rid, text=text if text is not None else rid, scope=Scope(user_id="u"))
    return SearchHit(record=record, score=score)


def run_boost(vector: list[SearchHit], keyword: list[SearchHit], params: BoostParams,
              query: str) -> dict[str, Candidate]:
    candidates: dict[str, Candidate] = {}
    for h in [*vector, *keyword]:
        candidates.setdefault(h.id, Candidate(h.record))
    boost(candidates, {"vector": vector, "keyword": keyword}, 1.0, params, query)
    return candidates


def test_length_factor_leaves_short_texts_alone_and_grows_linearly() -> None:
    assert length_factor(10, 50, 0.75) == 1.0
    assert length_factor(50, 50, 0.75) == 1.0
    assert length_factor(100, 50, 0.75) == pytest.approx(1.75)
    assert length_factor(500, 50, 1.0) == pytest.approx(10.0)
    assert length_factor(500, 0, 1.0) == 1.0  # pivot 0: normalisation off


def test_a_long_text_matching_the_same_words_gets_less_keyword_evidence() -> None:
    short = "tea with Anna in Leeds"
    long = short + " " + " ".join(f"filler{i}" for i in range(200))
    vector = [hit("short", 0.7, short), hit("long", 0.7, long)]
    keyword = [hit("long", 0.8, long), hit("short", 0.75, short)]
    plain = run_boost(vector, keyword, BoostParams(share=0.5), "tea Anna Leeds")
    assert plain["long"].score > plain["short"].score  # raw relevance favours the long text
    normed = run_boost(vector, keyword, BoostParams(share=0.5, length_pivot=50, length_b=1.0), "tea Anna Leeds")
    assert normed["short"].score > normed["long"].score
    assert normed["short"].signals["keyword_strength"] == 1.0
    # 205 terms against a pivot of 50: odds(0.8) / 4.1 relative to odds(0.75)
    assert normed["long"].signals["keyword_strength"] == pytest.approx((0.8 / 0.2) / (205 / 50) / 3.0)


def test_agreement_is_the_share_of_the_keyword_top_in_the_vector_top() -> None:
    vector = [hit(x, 0.9 - i / 100) for i, x in enumerate("abcdef")]
    assert agreement(vector, [hit("a", 0.5), hit("z", 0.4)], 3) == 0.5
    assert agreement(vector, [hit("y", 0.5), hit("z", 0.4)], 3) == 0.0
    assert agreement(vector, [hit("e", 0.5)], 3) == 0.0  # "e" is 5th in the vector list
    assert agreement(vector, [hit("e", 0.5)], 5) == 1.0
    assert agreement([], [hit("e", 0.5)], 5) == 1.0  # nothing to compare: full confidence


def test_keyword_evidence_counts_less_when_the_lists_disagree() -> None:
    vector = [hit("a", 0.8, "alpha"), hit("b", 0.7, "beta"), hit("c", 0.6, "gamma")]
    agreeing = [hit("b", 0.8, "beta")]
    disagreeing = [hit("c", 0.8, "gamma")]
    params = BoostParams(share=0.5, agreement_depth=2, agreement_power=1.0)
    with_agreement = run_boost(vector, agreeing, params, "beta")
    assert with_agreement["b"].signals["keyword_confidence"] == 1.0
    without = run_boost(vector, disagreeing, params, "gamma")
    assert without["c"].signals["keyword_confidence"] == 0.0
    assert without["c"].score == pytest.approx(2 * 0.6 - 1)  # no boost at all
    floored = run_boost(vector, disagreeing, BoostParams(share=0.5, agreement_depth=2, agreement_floor=0.5),
                        "gamma")
    v = 2 * 0.6 - 1
    assert floored["c"].score == pytest.approx(v + (1 - v) * 0.5 * 0.5 * 1.0)


def test_boost_never_lowers_a_vector_score() -> None:
    vector = [hit("a", 0.9, "x y"), hit("b", 0.55, "long " * 300)]
    keyword = [hit("b", 0.99, "long " * 300), hit("a", 0.1, "x y")]
    for params in (BoostParams(), BoostParams(length_pivot=30), BoostParams(agreement_depth=1)):
        fused = run_boost(vector, keyword, params, "long x")
        assert fused["a"].score >= 2 * 0.9 - 1
        assert fused["b"].score >= 2 * 0.55 - 1


def test_reference_time_is_the_newest_observation_unless_in_the_future() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    old = MemoryRecord(text="a", scope=Scope(user_id="u"), observed_at=datetime(2023, 5, 1, tzinfo=UTC))
    newer = MemoryRecord(text="b", scope=Scope(user_id="u"), observed_at=datetime(2023, 6, 1, tzinfo=UTC))
    assert reference_time([old, newer], now) == datetime(2023, 6, 1, tzinfo=UTC)
    future = MemoryRecord(text="c", scope=Scope(user_id="u"), observed_at=now + timedelta(days=1))
    assert reference_time([old, future], now) == now
    assert reference_time([], now) == now


def test_recency_from_a_reference_time_ranks_the_newer_of_two_equals_first() -> None:
    ref = datetime(2023, 6, 1, tzinfo=UTC)
    old = Candidate(MemoryRecord(id="old", text="I live in Lyon", scope=Scope(user_id="u"),
                                 observed_at=ref - timedelta(days=60)), score=0.5)
    new = Candidate(MemoryRecord(id="new", text="I moved to Porto", scope=Scope(user_id="u"),
                                 observed_at=ref), score=0.49)
    ranked = apply_recency([old, new], ref, 0.1, 30.0)
    assert [c.record.id for c in ranked] == ["new", "old"]
    assert ranked[0].signals["recency"] == pytest.approx(0.1)  # age 0 at the reference
    assert ranked[1].signals["recency"] == pytest.approx(0.1 * 0.25)  # two half-lives
    # from "now" (years later) both are near 0 and the older, higher score would win
    late = apply_recency([Candidate(old.record, score=0.5), Candidate(new.record, score=0.49)],
                         datetime(2026, 1, 1, tzinfo=UTC), 0.1, 30.0)
    assert [c.record.id for c in late] == ["old", "new"]


def test_explain_shares_sum_to_one_and_follow_contributions() -> None:
    shares = explain_shares({"vector": 0.6, "keyword": 0.2, "vector_score": 0.8}, 0.8)
    assert shares["share_vector"] == pytest.approx(0.75)
    assert shares["share_keyword"] == pytest.approx(0.25)
    assert shares["vector_score"] == 0.8  # the raw values stay
    # recency takes its part of the final score, the rest is split by contribution
    final = 0.9 * 0.8 + 0.1 * 1.0
    shares = explain_shares({"vector": 0.6, "keyword": 0.2, "relevance": 0.8, "recency": 0.1}, final)
    assert shares["share_recency"] == pytest.approx(0.1 / final)
    assert shares["share_vector"] == pytest.approx(0.75 * (final - 0.1) / final)
    assert sum(v for k, v in shares.items() if k.startswith("share_")) == pytest.approx(1.0)
    assert explain_shares({"vector": 0.0}, 0.0)["share_vector"] == 0.0
    reranked = explain_shares({"vector": 0.5, "fused": 0.5, "rerank": 0.9}, 0.9)
    assert reranked["share_rerank"] == 1.0 and "share_vector" not in reranked


def test_confidence_scale_follows_the_strongest_keyword_match() -> None:
    vector = [hit("a", 0.8, "alpha"), hit("b", 0.7, "beta")]
    weak = [hit("b", 0.5, "beta")]  # odds 1
    strong = [hit("b", 0.9, "beta")]  # odds 9
    params = BoostParams(share=0.5, confidence_scale=3.0)
    assert run_boost(vector, weak, params, "beta")["b"].signals["keyword_confidence"] == pytest.approx(1 / 4)
    assert run_boost(vector, strong, params, "beta")["b"].signals["keyword_confidence"] == pytest.approx(9 / 12)


def test_default_settings_normalise_long_texts() -> None:
    """The shipped defaults (chosen on held-out halves, docs/benchmarks.md) turn
    length normalisation on and leave the other knobs off."""
    from memplane.config import SearchConfig
    from memplane.retrieval import boost_params

    params = boost_params(SearchConfig(), {"vector": 1.0, "keyword": 1.0})
    assert params == BoostParams(share=0.5, length_pivot=100, length_b=1.0)
