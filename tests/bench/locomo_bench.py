"""LoCoMo retrieval benchmark: does search bring back the turns that answer a question?

Protocol (identical for mem0, see ``mem0_side.run_locomo``): for each of the 10
conversations, every dialogue turn is added verbatim with infer=False as
"Speaker: text" in that conversation's scope (dia_id, session and session date as
metadata, the session date as observed_at); then every category 1-4 question is
searched in that scope (30 results) and scored by recall@k (fraction of the evidence
turns retrieved) and hit@k (any evidence turn retrieved), k = 5, 10, 30.

memplane configurations: ``vector`` (vector similarity only), ``hybrid`` (vector +
FTS5 keyword relevance, fused with the default settings: the ``boost`` fusion) and
``hybrid_rrf`` (the same signals fused by reciprocal rank, ``search.fusion=rrf``). The ``llm`` reranker needs an
LLM, which cannot run offline here, so no rerank configuration is measured.

``fusion_prototypes`` re-fuse the store's own vector and keyword candidate lists in
the benchmark (no memplane change) to measure alternatives to the default fusion.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from memplane.providers.base import Embedder
from tests.bench import locomo_data, mem0_env
from tests.bench.memplane_side import (
    TimedEmbedder,
    make_memory,
    sentence_embedder,
    sqlite_store,
)
from tests.bench.metrics import KS, RetrievalScores
from tests.bench.report import ratio
from tests.bench.timing import Stopwatch, latency_summary, peak_rss_mb

CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "vector": {"hybrid": False},
    "hybrid": {"hybrid": True},
    # the rank-based alternative, kept measurable beside the default score fusion
    "hybrid_rrf": {"hybrid": True, "fusion": "rrf"},
}
RESULTS = 30


def run(data: Path, conversations: int | None, with_mem0: bool, prototypes: bool) -> dict[str, Any]:
    convs = locomo_data.load(data, limit=conversations)
    out: dict[str, Any] = {
        "data": {
            "file": data.name,
            "conversations": len(convs),
            "turns": sum(len(c.turns) for c in convs),
            "questions": sum(len(c.questions) for c in convs),
            "questions_skipped_no_valid_evidence": sum(c.questions_without_evidence for c in convs),
            "evidence_ids_dropped": sorted({e for c in convs for e in c.dropped_evidence}),
        },
        "protocol": {"results_per_search": RESULTS, "ks": list(KS), "categories": locomo_data.CATEGORIES},
        "systems": {"memplane": run_memplane(convs, prototypes)},
        "not_measured": {
            "hybrid+rerank": "the only built-in reranker is `llm`, which needs a reachable LLM; "
            "a local cross-encoder would need weights that cannot be downloaded here",
        },
    }
    if with_mem0:
        print("locomo: mem0", file=sys.stderr)
        out["systems"]["mem0"] = mem0_env.run(
            "locomo", "--data", str(data),
            *(["--conversations", str(conversations)] if conversations else []),
        )
    out["summary"] = summary(out["systems"])
    return out


def run_memplane(convs: list[locomo_data.Conversation], prototypes: bool,
                 inner: Embedder | None = None,
                 label: str = "sentence_transformers (all-MiniLM-L6-v2, packaged weights)",
                 ) -> dict[str, Any]:
    """``inner``: the embedder to measure (default: the packaged all-MiniLM-L6-v2)."""
    workdir = Path(tempfile.mkdtemp(prefix="memplane-locomo-"))
    store = sqlite_store(workdir / "locomo.db")
    embedder = TimedEmbedder(inner or sentence_embedder())
    embedder.embed(["warm up"], purpose="query")  # load the model before timing
    embedder.seconds = 0.0
    memories = {
        name: make_memory(store=store, embedder=embedder, search=search)
        for name, search in CONFIGURATIONS.items()
    }
    ingest_memory = memories["hybrid"]
    scores = {name: RetrievalScores(locomo_data.CATEGORIES) for name in memories}
    latencies: dict[str, list[float]] = {name: [] for name in memories}
    fusion = FusionPrototypes() if prototypes else None
    ingest = Stopwatch()
    stored = 0
    for conv in convs:
        for turn in conv.turns:
            with ingest:
                result = ingest_memory.add(
                    turn.memory_text,
                    user_id=conv.sample_id,
                    infer=False,
                    observed_at=turn.observed_at,
                    metadata={"dia_id": turn.dia_id, "session": turn.session,
                              "session_date": turn.session_date, "speaker": turn.speaker},
                )
            stored += len(result.by_event("ADD"))
        for q in conv.questions:
            for name, memory in memories.items():
                t0 = time.perf_counter()
                hits = memory.search(q.question, user_id=conv.sample_id, limit=RESULTS)
                latencies[name].append(time.perf_counter() - t0)
                scores[name].add(q.category, [h.record.metadata.get("dia_id", "") for h in hits], q.evidence)
            if fusion is not None:
                fusion.add(store, embedder, conv.sample_id, q)
        print(f"memplane locomo {conv.sample_id}: {len(conv.turns)} turns", file=sys.stderr)
    embedding_seconds = embedder.seconds
    result: dict[str, Any] = {
        "embedder": label,
        "store": "sqlite",
        "turns_stored": stored,
        "ingest_seconds": round(ingest.total, 2),
        "ingest_turns_per_s": round(sum(len(c.turns) for c in convs) / ingest.total, 1),
        "embedding_seconds_total": round(embedding_seconds, 2),
        "configurations": {
            name: {"search": latency_summary(latencies[name]), "scores": scores[name].summary()}
            for name in memories
        },
        "peak_rss_mb": peak_rss_mb(),
    }
    if fusion is not None:
        result["fusion_prototypes"] = fusion.summary()
    for memory in memories.values():
        memory.close()
    return result


# --- fusion prototypes ---------------------------------------------------------------


Ranked = list[tuple[str, float]]


def rrf(lists: list[tuple[Ranked, float]], k: int) -> list[str]:
    fused: dict[str, float] = {}
    for ranked, weight in lists:
        for rank, (key, _) in enumerate(ranked):
            fused[key] = fused.get(key, 0.0) + weight / (k + rank + 1)
    return sorted(fused, key=lambda key: -fused[key])


def weighted(lists: list[tuple[Ranked, float]]) -> list[str]:
    """Min-max normalise each list's scores, then a weighted sum (missing = 0)."""
    fused: dict[str, float] = {}
    for ranked, weight in lists:
        if not ranked:
            continue
        values = [s for _, s in ranked]
        low, high = min(values), max(values)
        for key, score in ranked:
            norm = (score - low) / (high - low) if high > low else 1.0
            fused[key] = fused.get(key, 0.0) + weight * norm
    return sorted(fused, key=lambda key: -fused[key])


class FusionPrototypes:
    """Alternative fusions of the store's vector and keyword candidate lists."""

    POOL = 100

    def __init__(self) -> None:
        self.variants: dict[str, Callable[[Ranked, Ranked], list[str]]] = {
            "vector_only": lambda v, kw: [key for key, _ in v],
            "keyword_only": lambda v, kw: [key for key, _ in kw],
            "rrf_k60_pool50": lambda v, kw: rrf([(v[:50], 1.0), (kw[:50], 1.0)], 60),
            "rrf_k60_pool100": lambda v, kw: rrf([(v, 1.0), (kw, 1.0)], 60),
            "rrf_k10_pool100": lambda v, kw: rrf([(v, 1.0), (kw, 1.0)], 10),
            "rrf_k60_kw0.5": lambda v, kw: rrf([(v, 1.0), (kw, 0.5)], 60),
            "rrf_k60_kw2": lambda v, kw: rrf([(v, 1.0), (kw, 2.0)], 60),
            "weighted_0.7v_0.3kw": lambda v, kw: weighted([(v, 0.7), (kw, 0.3)]),
            "weighted_0.5v_0.5kw": lambda v, kw: weighted([(v, 0.5), (kw, 0.5)]),
        }
        self.scores = {name: RetrievalScores(locomo_data.CATEGORIES) for name in self.variants}

    def add(self, store: Any, embedder: Any, scope_id: str, q: locomo_data.Question) -> None:
        from memplane.models import Scope

        scope = Scope(user_id=scope_id)
        vector = list(embedder.embed([q.question], purpose="query")[0])
        by_id: dict[str, str] = {}

        def ranked(hits: list[Any]) -> Ranked:
            for h in hits:
                by_id[h.record.id] = h.record.metadata.get("dia_id", "")
            return [(h.record.id, h.score) for h in hits]

        v = ranked(store.search(vector, scope, limit=self.POOL))
        kw = ranked(store.keyword_search(q.question, scope, limit=self.POOL))
        for name, fuse in self.variants.items():
            ids = fuse(v, kw)[:RESULTS]
            self.scores[name].add(q.category, [by_id.get(i, "") for i in ids], q.evidence)

    def summary(self) -> dict[str, Any]:
        return {name: s.summary() for name, s in self.scores.items()}


def summary(systems: dict[str, Any]) -> dict[str, Any]:
    """The headline figures, one row per system and configuration."""
    rows: dict[str, Any] = {}
    for name, cfg in systems["memplane"]["configurations"].items():
        overall = cfg["scores"]["overall"]
        rows[f"memplane/{name}"] = {
            **{key: overall[key] for key in overall if key != "questions"},
            "search_p50_ms": cfg["search"]["p50_ms"],
            "search_p95_ms": cfg["search"]["p95_ms"],
        }
    if "mem0" in systems:
        overall = systems["mem0"]["scores"]["overall"]
        rows["mem0/default"] = {
            **{key: overall[key] for key in overall if key != "questions"},
            "search_p50_ms": systems["mem0"]["search"]["p50_ms"],
            "search_p95_ms": systems["mem0"]["search"]["p95_ms"],
        }
        best = max(
            (r for key, r in rows.items() if key.startswith("memplane/")),
            key=lambda r: r["recall@10"],
        )
        rows["ratios_best_memplane_vs_mem0"] = {
            "recall@10": ratio(best["recall@10"], rows["mem0/default"]["recall@10"]),
            "hit@10": ratio(best["hit@10"], rows["mem0/default"]["hit@10"]),
            "ingest_speedup": ratio(
                systems["memplane"]["ingest_turns_per_s"], systems["mem0"]["ingest_turns_per_s"]
            ),
        }
    rows["targets"] = {"recall@10": 0.60, "hit@10": 0.70}
    return rows
