"""Score fusion for hybrid search: pure functions, no I/O (see ``retrieval``).

The ``boost`` fusion starts from the clipped cosine ``v = max(0, cos)`` and lets
keyword evidence close part of the gap to 1:

    score = v + (1 - v) * share * confidence * evidence

- ``share = keyword_weight / (vector_weight + keyword_weight)``;
- ``evidence`` in [0, 1] for one candidate: ``strength * sqrt(coverage)``, where
  ``strength`` is the candidate's keyword relevance (``odds(k) = k / (1 - k)`` undoes
  the store's ``s / (1 + s)``) divided by a length factor, relative to the best of
  this query's keyword hits, and ``coverage`` the share of the query's distinct terms
  the text holds;
- the length factor ``1 + b * (max(n, pivot) / pivot - 1)`` (``n``: the text's
  terms) leaves texts up to ``pivot`` terms alone and divides the relevance of longer
  ones, as BM25's length normalisation does: a turn of hundreds of words collects
  matches for almost any query without being about it;
- ``confidence`` in [0, 1] for the whole query: how strong its best keyword match
  is, ``s / (s + confidence_scale)`` with ``s`` the best hit's unbounded relevance
  (in the sqlite store, the summed scope IDF of the distinct query words it holds).
  A question whose only shared words are everyday ones ("what should I cook this
  weekend?") gets a small keyword boost, one naming something rare ("the ferry to
  Hvar") nearly the full one. Optionally (off by default) also the agreement of the
  keyword and vector lists: the share of the keyword top ``depth`` that ranks in the
  vector top ``depth``; measured, it costs more where keywords rescue weak vectors
  (other languages) than it saves (docs/benchmarks.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from memplane.terms import keyword_terms

_MAX_KEYWORD_SCORE = 0.999


class Described(Protocol):
    """What fusion reads of a candidate's record: a ``MemoryRecord`` or a store's
    ``LightHit`` (the record's id, text and times without the rest of it)."""

    @property
    def id(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def observed_at(self) -> datetime | None: ...


class Scored(Protocol):
    """One hit of a signal: a ``SearchHit`` or a ``LightHit``."""

    @property
    def id(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def record(self) -> Described: ...


@dataclass
class Candidate:
    record: Described
    score: float = 0.0
    signals: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class BoostParams:
    """The knobs of the ``boost`` fusion (``SearchConfig`` holds the defaults)."""

    share: float = 0.5
    length_pivot: int = 0  # 0: no length normalisation
    length_b: float = 0.75
    agreement_depth: int = 0  # 0: confidence is always 1
    agreement_power: float = 1.0
    agreement_floor: float = 0.0
    confidence_scale: float = 0.0  # 0: off; else confidence *= best / (best + scale)


def clip(x: float) -> float:
    return min(1.0, max(0.0, x))


def odds(score: float) -> float:
    """``k / (1 - k)``: the inverse of the ``s / (1 + s)`` squashing stores use for
    unbounded relevance such as BM25 (capped so a score of exactly 1 stays finite)."""
    k = min(score, _MAX_KEYWORD_SCORE)
    return k / (1.0 - k)


def query_coverage(query_terms: set[str], text: str) -> float:
    """Share of the query's distinct terms that occur in ``text`` (0 when the
    query has none)."""
    if not query_terms:
        return 0.0
    return len(query_terms.intersection(keyword_terms(text))) / len(query_terms)


def length_factor(terms: int, pivot: int, b: float) -> float:
    """``1 + b * (max(terms, pivot) / pivot - 1)``: 1 up to ``pivot`` terms, then
    growing linearly with the length (1 when ``pivot`` is 0)."""
    if pivot <= 0:
        return 1.0
    return 1.0 + b * (max(terms, pivot) / pivot - 1.0)


def agreement(vector: Sequence[Scored], keyword: Sequence[Scored], depth: int) -> float:
    """Share of the keyword top ``depth`` that is also in the vector top ``depth``
    (1 when there is nothing to compare)."""
    top_k = [h.id for h in keyword[:depth]]
    if depth <= 0 or not top_k or not vector:
        return 1.0
    top_v = {h.id for h in vector[:depth]}
    return sum(1 for rid in top_k if rid in top_v) / len(top_k)


def boost(
    candidates: dict[str, Candidate], signals: dict[str, Sequence[Scored]],
    vector_weight: float, params: BoostParams, query: str,
) -> None:
    """Cosine similarity as the base, raised by bounded keyword evidence (module doc)."""
    # vector_weight 0 means keyword only: no similarity base
    vector_hits = signals.get("vector", []) if vector_weight > 0 else []
    vectors = {h.id: h.score for h in vector_hits}
    # a candidate missing from the vector list is at most as similar as its last hit
    floor = min(vectors.values()) if vectors else 0.0
    keyword_hits = signals.get("keyword", []) if params.share > 0 else []
    relevance: dict[str, float] = {}
    words: dict[str, list[str]] = {}  # each keyword hit's terms, split once
    keyword_scores: dict[str, float] = {}  # each id's first keyword hit's score
    for h in keyword_hits:
        keyword_scores.setdefault(h.id, h.score)
        words[h.id] = keyword_terms(h.record.text)
        relevance[h.id] = odds(h.score) / length_factor(len(words[h.id]), params.length_pivot, params.length_b)
    best = max(relevance.values(), default=0.0)
    confidence = 1.0
    if params.agreement_depth > 0 and vector_hits and keyword_hits:
        ranked = sorted(keyword_hits, key=lambda h: -relevance[h.id])
        raw = agreement(vector_hits, ranked, params.agreement_depth)
        confidence = params.agreement_floor + (1 - params.agreement_floor) * raw ** params.agreement_power
    if params.confidence_scale > 0 and keyword_hits:
        strongest = max(odds(h.score) for h in keyword_hits)
        confidence *= strongest / (strongest + params.confidence_scale)
    terms = set(keyword_terms(query))
    for rid, c in candidates.items():
        raw_v = vectors.get(rid, floor)
        base = max(0.0, 2.0 * raw_v - 1.0)
        c.signals["vector"] = base
        c.signals["vector_score"] = raw_v
        c.score = base
        if rid not in relevance:
            continue
        # the store matched at least one query term even if our split disagrees
        found = len(terms.intersection(words[rid])) / len(terms) if terms else 0.0
        coverage = max(found, 1.0 / max(1, len(terms)))
        strength = relevance[rid] / best if best > 0 else 0.0
        evidence = strength * math.sqrt(coverage)
        contribution = (1.0 - base) * params.share * confidence * evidence
        c.score += contribution
        c.signals["keyword"] = contribution
        c.signals["keyword_score"] = keyword_scores[rid]
        c.signals["keyword_strength"] = strength
        c.signals["keyword_coverage"] = coverage
        c.signals["keyword_confidence"] = confidence


def reserve_vector_slots(
    ordered: list[Candidate], vector: Sequence[Scored], reserved: int, depth: int,
) -> list[Candidate]:
    """``ordered`` with vector-only's top ``reserved`` hits inside its top ``depth``.

    A reserved hit the fusion ranked lower takes the last free place of the top
    ``depth`` (it displaces the lowest fused candidates that are not reserved, which
    move down just below) and the score of the place it takes; a displaced one scores
    at most what ranks above it, so scores still fall with rank. So the fused top ``depth`` holds at least what vector-only search's top
    ``reserved`` holds: keyword evidence can add results but not push those out.
    """
    if reserved <= 0 or not vector:
        return ordered
    must = {h.id for h in vector[:reserved]}
    missing = [c for c in ordered[depth:] if c.record.id in must]  # in fused order
    if not missing:
        return ordered
    keep = must
    head = ordered[:depth]
    bumped: list[Candidate] = []
    for c in reversed(head):  # the lowest fused candidates that are not reserved make room
        if len(bumped) == len(missing):
            break
        if c.record.id not in keep:
            bumped.append(c)
    bumped.reverse()
    gone = {id(c) for c in bumped} | {id(c) for c in missing}
    kept = [c for c in head if id(c) not in gone]
    slots = [c.score for c in bumped]
    for c, score in zip(missing, slots, strict=False):
        c.signals["vector_reserved"] = 1.0
        c.score = score
    rest = [c for c in ordered[depth:] if id(c) not in gone]
    out = kept + missing[: len(bumped)] + bumped + missing[len(bumped):] + rest
    above = out[0].score
    for c in out[1:]:  # a displaced one scores at most the one above it
        if c.score > above:
            c.score = above
        above = c.score
    return out


def newer_first(ordered: list[Candidate], margin: float, depth: int) -> list[Candidate]:
    """Within the top ``depth``, a candidate observed later moves above one ranked just
    above it whose score is at most ``margin`` higher (repeated until stable), so of
    two near-equal statements the newer comes first. Only order inside the top
    changes, never which candidates it holds; a moved candidate takes the score of
    the place it takes, so scores still fall with rank."""
    if margin <= 0:
        return ordered
    head = ordered[:depth]
    scores = [c.score for c in head]
    moved = True
    while moved:
        moved = False
        for i in range(len(head) - 1):
            upper, lower = head[i], head[i + 1]
            if upper.score - lower.score <= margin and _when(lower) > _when(upper):
                head[i], head[i + 1] = lower, upper
                moved = True
    for c, score in zip(head, scores, strict=True):
        if c.score != score:
            c.signals["newer_first"] = score - c.score
            c.score = score
    return head + ordered[depth:]


def _when(c: Candidate) -> datetime:
    return c.record.observed_at or c.record.created_at


def reference_time(records: Sequence[Described], now: datetime) -> datetime:
    """The time recency is measured from: the newest ``observed_at`` (else
    ``created_at``) among ``records`` when that is in the past, else ``now``. For
    backfilled data (a conversation from last year) this keeps recency meaningful:
    age counts from the newest thing known, not from today."""
    newest = max((r.observed_at or r.created_at for r in records), default=None)
    return newest if newest is not None and newest < now else now


def best_window(text: str, query: str, width: int = 24) -> str:
    """The run of ``width`` words of ``text`` that best holds the query's terms, with
    ``…`` where it cuts the text; the whole text when it has at most ``width`` words.

    A window scores the sum over the distinct query terms it holds of ``1 / n``,
    ``n`` the term's occurrences in the whole text, so a word the text repeats
    everywhere ("the") counts little; the earliest best window is then moved to
    centre the rarest matched words (those the whole text holds least often)."""
    words = text.split()
    if len(words) <= width:
        return text
    wanted = set(keyword_terms(query))
    hits = [wanted.intersection(keyword_terms(w)) for w in words]
    seen: dict[str, int] = {}
    for found in hits:
        for term in found:
            seen[term] = seen.get(term, 0) + 1
    counts: dict[str, int] = {}

    def enter(i: int, step: int) -> None:
        for term in hits[i]:
            counts[term] = counts.get(term, 0) + step
            if counts[term] == 0:
                del counts[term]

    def value() -> float:
        return sum(1.0 / seen[t] for t in counts)

    for i in range(width):
        enter(i, 1)
    best, start = value(), 0
    for i in range(width, len(words)):  # slide: word i enters, word i - width leaves
        enter(i, 1)
        enter(i - width, -1)
        if value() > best + 1e-12:
            best, start = value(), i - width + 1
    inside = range(start, start + width)
    rarest = min((seen[t] for j in inside for t in hits[j]), default=0)
    anchors = [j for j in inside if any(seen[t] == rarest for t in hits[j])]
    if anchors:
        span = anchors[-1] - anchors[0] + 1
        start = max(0, min(len(words) - width, anchors[0] - (width - span) // 2))
    window = " ".join(words[start : start + width])
    return ("… " if start > 0 else "") + window + (" …" if start + width < len(words) else "")


_SHARED = ("vector", "keyword", "rerank", "recency")


def explain_shares(signals: dict[str, float], score: float) -> dict[str, float]:
    """``signals`` plus ``share_<signal>``: each signal's part of the final ``score``,
    summing to 1 (all 0 when the score is 0). Fusion contributions (``vector``,
    ``keyword``) add up to the fused score; a reranker's score replaces them; a
    recency boost takes ``recency`` of the final score, and the rest of it is split
    between the other signals in proportion to their contributions."""
    out = dict(signals)
    if "rerank" in signals:
        parts = {"rerank": signals["rerank"]}
    else:
        parts = {name: signals[name] for name in ("vector", "keyword") if name in signals}
    if "recency" in signals:
        recency = min(signals["recency"], score)
        fused = sum(parts.values())
        rest = max(0.0, score - recency)
        parts = {name: value * rest / fused if fused > 0 else 0.0 for name, value in parts.items()}
        parts["recency"] = recency
    total = sum(parts.values())
    for name in _SHARED:
        if name in parts:
            out[f"share_{name}"] = parts[name] / total if total > 0 else 0.0
    return out
