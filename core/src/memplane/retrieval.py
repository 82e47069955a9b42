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

- ``boost`` (default): ``score = v + (1 - v) * w * c * e`` where
  ``v = max(0, cos)`` is the cosine similarity clipped at 0 (``2 * vector_score - 1``),
  ``w = keyword_weight / (vector_weight + keyword_weight)``, ``c`` the query's
  keyword confidence and ``e`` the candidate's keyword evidence in [0, 1]
  (``memplane.fusion`` has the formulas: keyword relevance divided by a length
  factor for texts longer than ``keyword_length_pivot`` terms, relative to this
  query's best, times ``sqrt(coverage)`` of the query's distinct terms). Keyword
  evidence can only raise a score and never past 1. A candidate missing from the
  vector list takes its lowest score (it can be no higher).
- ``rrf``: ``score = sum_i w_i / (k + rank_i) / sum_i w_i / (k + 1)``,
  ``rank_i`` 1-based in signal ``i``; a candidate absent from a signal adds
  nothing. Rank-based: the top hit scores 1 however unrelated it is.
- ``weighted``: ``score = sum_i w_i * s_i / sum_i w_i``. A candidate absent from
  a *full* pool gets that pool's lowest score (it can be no higher); absent from
  a pool that was not full, 0 (it did not match).

Then, optionally: rerank the best ``rerank_pool`` fused candidates (the reranker's
score replaces the fused one), and a recency boost
``score = (1 - w) * score + w * 0.5 ** (age_days / half_life_days)`` where age is
measured from ``observed_at`` (else ``created_at``) back to the request's ``as_of``,
by default the newest observation among the candidates when that is in the past
(backfilled data), else now. ``explain=True`` fills ``SearchHit.signals`` with each
signal's contribution and raw value, and ``share_<signal>``: its part of the final
score (the shares sum to 1); ``SearchHit.match`` then shows the window of a long text
that its keyword evidence came from (``fusion.best_window``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter

from memplane.config import SearchConfig
from memplane.errors import ValidationError
from memplane.filters import And, Cmp, Filter, Not, Or
from memplane.fusion import (
    BoostParams,
    Candidate,
    Described,
    Scored,
    best_window,
    boost,
    clip,
    explain_shares,
    newer_first,
    query_coverage,
    reference_time,
    reserve_vector_slots,
)
from memplane.models import Scope, SearchHit, SearchResult
from memplane.pipeline import calls
from memplane.pipeline.effects import Flow
from memplane.providers.base import LightHit


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
    #: the time recency counts age back from (None: the newest observed_at among
    #: the candidates when that is in the past, else ``now``; see fusion.reference_time);
    #: when given, memories observed after it are not found (see ``time_window``)
    as_of: datetime | None = None
    #: only memories observed at most this many days before ``as_of`` (else now)
    max_age_days: float | None = None

    def store_filters(self) -> Filter | None:
        """The caller's filters and the time window, as one tree for the store."""
        window = time_window(self.as_of, self.max_age_days, self.now)
        if window is None or self.filters is None:
            return window or self.filters
        return And(all=[self.filters, window])


def time_window(as_of: datetime | None, max_age_days: float | None, now: datetime) -> Filter | None:
    """The filter a search ``as_of`` a time (and within ``max_age_days`` of it) adds.

    A memory's time is its ``observed_at``, else its ``created_at`` (as for recency).
    ``as_of`` keeps memories whose time is at or before it (what was known then);
    ``max_age_days`` also drops those older than that many days before ``as_of``
    (``now`` when no ``as_of`` is given). None when neither is set.
    """
    if as_of is None and max_age_days is None:
        return None
    if max_age_days is not None and not (math.isfinite(max_age_days) and max_age_days > 0):
        raise ValidationError("max_age_days must be a positive number of days")
    end = as_of or now
    start = None
    if max_age_days is not None:
        try:
            start = end - timedelta(days=max_age_days)
        except OverflowError:  # the window reaches back past year 1: no lower bound
            start = None

    def within(name: str) -> list[Filter]:
        bounds: list[Filter] = [Cmp(op="lte", field=name, value=end)]
        if start is not None:
            bounds.append(Cmp(op="gte", field=name, value=start))
        return bounds

    unobserved = Not.model_validate({"not": Cmp(op="exists", field="observed_at", value=True)})
    return Or(any=[And(all=within("observed_at")), And(all=[unobserved, *within("created_at")])])


_clip = clip
__all__ = ["Candidate", "SearchRequest", "apply_recency", "boost_params", "fuse", "query_coverage", "recency_signal",
           "search_flow", "time_window"]


def boost_params(settings: SearchConfig, weights: dict[str, float]) -> BoostParams:
    """The ``boost`` fusion's knobs from the search settings."""
    vector_weight, keyword_weight = weights.get("vector", 0.0), weights.get("keyword", 0.0)
    share = keyword_weight / (vector_weight + keyword_weight) if keyword_weight > 0 else 0.0
    return BoostParams(
        share=share,
        length_pivot=settings.keyword_length_pivot,
        length_b=settings.keyword_length_b,
        agreement_depth=settings.keyword_agreement_depth,
        agreement_power=settings.keyword_agreement_power,
        agreement_floor=settings.keyword_agreement_floor,
        confidence_scale=settings.keyword_confidence_scale,
    )


def fuse(
    signals: dict[str, Sequence[Scored]], weights: dict[str, float], settings: SearchConfig,
    pool: int, query: str = "", params: BoostParams | None = None,
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
            if hit.id not in candidates:  # one Candidate an id (setdefault built one a hit)
                candidates[hit.id] = Candidate(hit.record)
    if not active:
        return []
    if settings.fusion == "boost":
        boost(candidates, signals, weights.get("vector", 0.0),
              params if params is not None else boost_params(settings, weights), query)
    elif settings.fusion == "rrf":
        _rrf(candidates, active, weights, settings.rrf_k)
    else:
        _weighted(candidates, active, weights, pool)
    ordered = list(candidates.values())
    for c in ordered:
        if not 0.0 <= c.score <= 1.0:  # _clip, called only where it changes something
            c.score = _clip(c.score)
    # stable, reverse included: insertion order breaks ties
    ordered.sort(key=_score, reverse=True)
    if len(active) > 1 and "vector" in active:
        ordered = reserve_vector_slots(ordered, active["vector"], settings.vector_reserved,
                                       settings.vector_reserved_depth)
    return newer_first(ordered, settings.newer_first_margin, settings.newer_first_depth)


_score = attrgetter("score")


def _rrf(
    candidates: dict[str, Candidate], active: dict[str, Sequence[Scored]],
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
    candidates: dict[str, Candidate], active: dict[str, Sequence[Scored]],
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


def recency_signal(record: Described, now: datetime, half_life_days: float) -> float:
    when = record.observed_at or record.created_at
    age_days = max(0.0, (now - when).total_seconds() / 86_400)
    return float(0.5 ** (age_days / half_life_days))


def apply_recency(
    candidates: list[Candidate], reference: datetime, weight: float, half_life_days: float,
) -> list[Candidate]:
    """``score = (1 - w) * score + w * 0.5 ** (age_days / half_life_days)``, age
    counted back from ``reference``; re-sorted best first (stable)."""
    for c in candidates:
        recency = recency_signal(c.record, reference, half_life_days)
        c.signals["relevance"] = c.score
        c.signals["recency"] = weight * recency
        c.score = _clip((1 - weight) * c.score + weight * recency)
    return sorted(candidates, key=lambda c: -c.score)


def search_flow(req: SearchRequest) -> Flow[SearchResult]:
    """Embed, fetch both signals as light hits (ids, scores, the fields fusion reads),
    fuse, rerank, boost by recency, threshold; then read the records of the final
    ``limit`` only."""
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
    found = yield from calls.search_candidates(
        vector, req.query, req.scope, limit=pool, filters=req.store_filters(), keyword=req.hybrid,
        include_expired=req.include_expired)
    # the store was asked for this scope only; a hit outside it is never used
    in_scope = _scope_filter(req.scope)
    signals: dict[str, Sequence[Scored]] = {"vector": in_scope(found.vector)}
    if req.hybrid:
        signals["keyword"] = in_scope(found.keyword or [])
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
        reference = req.as_of or reference_time(
            [h.record for hits in signals.values() for h in hits], req.now)
        candidates = apply_recency(candidates, reference, s.recency_weight, s.recency_half_life_days)

    threshold = req.threshold if req.threshold is not None else s.threshold
    kept = [c for c in candidates if threshold is None or c.score >= threshold]
    out = yield from _results(kept, req)
    return SearchResult(out, usage=usage)


def _results(kept: list[Candidate], req: SearchRequest) -> Flow[list[SearchHit]]:
    """The first ``limit`` candidates as hits with their records, read in one call.
    A candidate deleted since the signals were read is left out and the next one
    takes its place, so a concurrent delete never yields a deleted memory; one updated
    meanwhile comes back as it is now, with the score its earlier version earned."""
    out: list[SearchHit] = []
    start = 0
    while len(out) < req.limit and start < len(kept):
        batch = kept[start : start + req.limit - len(out)]
        start += len(batch)
        records = yield from calls.get([c.record.id for c in batch], req.scope, include_deleted=False)
        by_id = {r.id: r for r in records if req.scope.matches(r.scope)}
        for c in batch:
            record = by_id.get(c.record.id)
            if record is None:
                continue
            if req.explain:
                matched = best_window(c.record.text, req.query) if c.signals.get("keyword", 0) > 0 else None
                out.append(SearchHit(record=record, score=c.score,
                                     signals=explain_shares(c.signals, c.score), match=matched))
            else:
                out.append(SearchHit(record=record, score=c.score))
    return out


def _scope_filter(scope: Scope) -> Callable[[list[LightHit]], list[LightHit]]:
    """The hits whose scope ``scope.matches``, asked once per distinct scope object of
    one search (a store hands the hits of one scope the same instance, so a list
    whose hits all share a matching scope comes back as it is)."""
    seen: dict[int, bool] = {}

    def keep(hits: list[LightHit]) -> list[LightHit]:
        distinct = {id(h.scope): h.scope for h in hits}
        for key, other in distinct.items():
            if key not in seen:
                seen[key] = scope.matches(other)
        if all(seen[key] for key in distinct):
            return hits
        return [h for h in hits if seen[id(h.scope)]]

    return keep
