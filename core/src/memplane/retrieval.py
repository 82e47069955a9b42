"""Hybrid search: vector similarity + keyword relevance, fused, optionally
reranked and boosted by recency, then thresholded. All scores stay in [0, 1].

Signals (each fetched with the caller's scope and filters, ``candidate_pool`` deep):

- ``vector``: the store's cosine score ``(1 + cos) / 2``;
- ``keyword``: the store's keyword score (FTS5/BM25 in sqlite), when the store
  declares ``keyword_search`` and ``hybrid`` is on. Tokenisation is the store's;
  the core only splits text into case-folded word runs (character bigrams for
  scripts written without spaces) to measure query coverage, with no stop-word
  list or stemmer.

Fusion (``search.fusion``), over the signals that returned at least one hit with a
score above 0 (a zero score carries no evidence):

- ``boost`` (default): ``score = v + (1 - v) * w * e`` where
  ``v = max(0, cos)`` is the cosine similarity clipped at 0 (``2 * vector_score - 1``),
  ``w = keyword_weight / (vector_weight + keyword_weight)`` and the keyword evidence
  ``e = (odds(k) / max odds(k)) * sqrt(coverage)`` in [0, 1]: ``odds(k) = k / (1 - k)``
  undoes the store's ``s / (1 + s)`` squashing of BM25 (the max runs over this
  query's keyword hits), and ``coverage`` is the share of the query's distinct
  terms found in the memory. Keyword evidence can only raise a score and never past
  1; one shared word out of four can add at most ``w * 0.5`` of the gap, so it does
  not beat a clearly closer vector match. A candidate missing from the vector list
  takes its lowest score (it can be no higher).
- ``rrf``: ``score = sum_i w_i / (k + rank_i) / sum_i w_i / (k + 1)``,
  ``rank_i`` 1-based in signal ``i``; a candidate absent from a signal adds
  nothing. Rank-based: the top hit scores 1 however unrelated it is.
- ``weighted``: ``score = sum_i w_i * s_i / sum_i w_i``. A candidate absent from
  a *full* pool gets that pool's lowest score (it can be no higher); absent from
  a pool that was not full, 0 (it did not match).

Then, optionally: rerank the best ``rerank_pool`` fused candidates (the reranker's
score replaces the fused one), and a recency boost
``score = (1 - w) * score + w * 0.5 ** (age_days / half_life_days)`` where age is
measured from ``observed_at`` (else ``created_at``). ``explain=True`` fills
``SearchHit.signals`` with each signal's contribution and raw value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from memplane.config import SearchConfig
from memplane.errors import ValidationError
from memplane.filters import Filter
from memplane.models import MemoryRecord, Scope, SearchHit, SearchResult
from memplane.pipeline import calls
from memplane.pipeline.effects import Flow
from memplane.terms import keyword_terms


@dataclass
class Candidate:
    record: MemoryRecord
    score: float = 0.0
    signals: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchRequest:
    query: str
    scope: Scope
    settings: SearchConfig
    now: datetime
    filters: Filter | None = None
    limit: int = 10
    threshold: float | None = None
    rerank: bool = False
    explain: bool = False
    hybrid: bool = True
    include_expired: bool = False


def _clip(x: float) -> float:
    return min(1.0, max(0.0, x))


def fuse(
    signals: dict[str, Sequence[SearchHit]], weights: dict[str, float], settings: SearchConfig,
    pool: int, query: str = "",
) -> list[Candidate]:
    """Fuse ranked hit lists into candidates sorted best first (ties: earlier signal,
    then rank order, so results are deterministic). ``query`` feeds the keyword
    coverage of ``boost``."""
    # A hit scoring 0 carries no evidence (e.g. a keyword match on nothing but
    # very common terms), so it takes no rank in that signal.
    signals = {name: [h for h in hits if h.score > 0] for name, hits in signals.items()}
    active = {name: hits for name, hits in signals.items() if hits and weights.get(name, 0) > 0}
    candidates: dict[str, Candidate] = {}
    for hits in active.values():
        for hit in hits:
            candidates.setdefault(hit.id, Candidate(hit.record))
    if not active:
        return []
    if settings.fusion == "boost":
        _boost(candidates, signals, weights, query)
    elif settings.fusion == "rrf":
        _rrf(candidates, active, weights, settings.rrf_k)
    else:
        _weighted(candidates, active, weights, pool)
    ordered = list(candidates.values())
    for c in ordered:
        c.score = _clip(c.score)
    ordered.sort(key=lambda c: -c.score)  # stable: insertion order breaks ties
    return ordered


def query_coverage(query_terms: set[str], text: str) -> float:
    """Share of the query's distinct terms that occur in ``text`` (0 when the
    query has none)."""
    if not query_terms:
        return 0.0
    return len(query_terms.intersection(keyword_terms(text))) / len(query_terms)


def _odds(score: float) -> float:
    """``k / (1 - k)``: the inverse of the ``s / (1 + s)`` squashing stores use for
    unbounded relevance such as BM25 (capped so a score of exactly 1 stays finite)."""
    k = min(score, _MAX_KEYWORD_SCORE)
    return k / (1.0 - k)


_MAX_KEYWORD_SCORE = 0.999


def _boost(
    candidates: dict[str, Candidate], signals: dict[str, Sequence[SearchHit]],
    weights: dict[str, float], query: str,
) -> None:
    """Cosine similarity as the base, raised by bounded keyword evidence."""
    vector_weight, keyword_weight = weights.get("vector", 0.0), weights.get("keyword", 0.0)
    share = keyword_weight / (vector_weight + keyword_weight) if keyword_weight > 0 else 0.0
    # vector_weight 0 means keyword only: no similarity base
    vectors = {h.id: h.score for h in signals.get("vector", [])} if vector_weight > 0 else {}
    # a candidate missing from the vector list is at most as similar as its last hit
    floor = min(vectors.values()) if vectors else 0.0
    keywords = {h.id: h.score for h in signals.get("keyword", [])} if share > 0 else {}
    best = max((_odds(k) for k in keywords.values()), default=0.0)
    terms = set(keyword_terms(query))
    for rid, c in candidates.items():
        raw = vectors.get(rid, floor)
        base = max(0.0, 2.0 * raw - 1.0)
        c.signals["vector"] = base
        c.signals["vector_score"] = raw
        c.score = base
        if rid not in keywords:
            continue
        # the store matched at least one query term even if our split disagrees
        coverage = max(query_coverage(terms, c.record.text), 1.0 / max(1, len(terms)))
        strength = _odds(keywords[rid]) / best if best > 0 else 0.0
        evidence = strength * math.sqrt(coverage)
        contribution = (1.0 - base) * share * evidence
        c.score += contribution
        c.signals["keyword"] = contribution
        c.signals["keyword_score"] = keywords[rid]
        c.signals["keyword_strength"] = strength
        c.signals["keyword_coverage"] = coverage


def _rrf(
    candidates: dict[str, Candidate], active: dict[str, Sequence[SearchHit]],
    weights: dict[str, float], k: int,
) -> None:
    norm = sum(weights[n] / (k + 1) for n in active)
    for name, hits in active.items():
        for rank, hit in enumerate(hits, start=1):
            c = candidates[hit.id]
            contribution = weights[name] / (k + rank) / norm
            c.score += contribution
            c.signals[name] = contribution
            c.signals[f"{name}_score"] = hit.score
            c.signals[f"{name}_rank"] = float(rank)


def _weighted(
    candidates: dict[str, Candidate], active: dict[str, Sequence[SearchHit]],
    weights: dict[str, float], pool: int,
) -> None:
    total = sum(weights[n] for n in active)
    for name, hits in active.items():
        by_id = {h.id: h for h in hits}
        floor = min(h.score for h in hits) if len(hits) >= pool else 0.0
        for c in candidates.values():
            found = by_id.get(c.record.id)
            raw = found.score if found is not None else floor
            contribution = weights[name] * raw / total
            c.score += contribution
            c.signals[name] = contribution
            c.signals[f"{name}_score"] = raw


def recency_signal(record: MemoryRecord, now: datetime, half_life_days: float) -> float:
    when = record.observed_at or record.created_at
    age_days = max(0.0, (now - when).total_seconds() / 86_400)
    return float(0.5 ** (age_days / half_life_days))


def search_flow(req: SearchRequest) -> Flow[SearchResult]:
    if not isinstance(req.query, str) or not req.query.strip():
        raise ValidationError("search needs a non-empty query string")
    if req.limit <= 0:
        raise ValidationError("limit must be a positive integer")
    if req.threshold is not None and not 0.0 <= req.threshold <= 1.0:
        raise ValidationError("threshold must be between 0 and 1")
    s = req.settings
    pool = max(req.limit, s.candidate_pool)
    embedded = yield from calls.embed([req.query], "query")
    vector, usage = embedded[0], embedded.usage.model_copy()
    signals: dict[str, Sequence[SearchHit]] = {}
    hits = yield from calls.search(vector, req.scope, limit=pool, filters=req.filters,
                                   include_expired=req.include_expired)
    signals["vector"] = [h for h in hits if req.scope.matches(h.record.scope)]
    if req.hybrid:
        hits = yield from calls.keyword_search(req.query, req.scope, limit=pool, filters=req.filters,
                                               include_expired=req.include_expired)
        signals["keyword"] = [h for h in hits if req.scope.matches(h.record.scope)]
    weights = {"vector": s.vector_weight, "keyword": s.keyword_weight}
    candidates = fuse(signals, weights, s, pool, req.query)

    if req.rerank and candidates:
        top = candidates[: max(req.limit, s.rerank_pool)]
        results, rerank_usage = yield from calls.rerank(req.query, [c.record.text for c in top])
        usage.add(rerank_usage)
        reranked = []
        for r in results:
            if 0 <= r.index < len(top):
                c = top[r.index]
                c.signals["fused"] = c.score
                c.signals["rerank"] = _clip(r.score)
                c.score = _clip(r.score)
                reranked.append(c)
        candidates = reranked

    if s.recency_weight > 0:
        w = s.recency_weight
        for c in candidates:
            boost = recency_signal(c.record, req.now, s.recency_half_life_days)
            c.signals["relevance"] = c.score
            c.signals["recency"] = w * boost
            c.score = _clip((1 - w) * c.score + w * boost)
        candidates.sort(key=lambda c: -c.score)

    threshold = req.threshold if req.threshold is not None else s.threshold
    out = []
    for c in candidates:
        if threshold is not None and c.score < threshold:
            continue
        out.append(SearchHit(record=c.record, score=c.score, signals=c.signals if req.explain else {}))
        if len(out) >= req.limit:
            break
    return SearchResult(out, usage=usage)
