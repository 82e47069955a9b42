"""Scaling protocol: N memories in one scope, per store, each run in its own process.

For each N: add rate with infer=False (vectors precomputed, so embedding costs
nothing), search p50/p95 with embedding excluded (precomputed query vectors) and end
to end (all-MiniLM-L6-v2 embeds the query), peak RSS of the process, and LLM calls
and prompt tokens of a one-sentence infer=True add with the zero-latency scripted
LLM. The same steps run on mem0 (``mem0_side.run_scaling``) when its environment is
installed. Each (system, store, N) runs in a fresh process so peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench import mem0_env
from tests.bench.locomo_data import REPO_ROOT
from tests.bench.report import ratio

SCOPE = "scale-user"
INFER_ADDS = 5


def queries_for(size: int, queries: int) -> int:
    return max(20, queries // 3) if size >= 100_000 else queries


def run(sizes: list[int], stores: list[str], queries: int, with_mem0: bool,
        milvus_max_size: int | None = None) -> dict[str, Any]:
    """``milvus_max_size`` skips Milvus Lite above that N: it adds only a few hundred
    memories a second (about 6 minutes for 100k), so a quick run may cap it."""
    runs: list[dict[str, Any]] = []
    for size in sizes:
        for store in stores:
            if store == "milvus" and milvus_max_size is not None and size > milvus_max_size:
                runs.append({"system": "memplane", "store": store, "size": size,
                             "error": f"skipped: above --milvus-max-size {milvus_max_size}"})
                continue
            print(f"scaling: memplane/{store} N={size}", file=sys.stderr)
            runs.append(worker_process(store, size, queries_for(size, queries)))
        if with_mem0:
            print(f"scaling: mem0 N={size}", file=sys.stderr)
            mem0 = mem0_env.run(
                "scaling", "--size", str(size), "--queries", str(queries_for(size, queries))
            )
            from memplane.tokens import estimate_tokens

            prompts = mem0.pop("prompts")
            mem0["prompt_tokens_per_add"] = round(
                sum(estimate_tokens(m["content"]) for call in prompts for m in call) / INFER_ADDS, 1
            )
            runs.append(mem0)
    return {"runs": runs, "comparison": compare(runs), "targets": {
        "search_p50_excluding_embedding_10k_mem0_over_memplane": 10.0,
        "prompt_tokens_mem0_over_memplane": 5.0,
    }}


def worker_process(store: str, size: int, queries: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="memplane-scaling-") as tmp:
        out = Path(tmp) / "result.json"
        proc = subprocess.run(
            [sys.executable, "-m", "tests.bench.scaling_bench", "--store", store,
             "--size", str(size), "--queries", str(queries), "--out", str(out)],
            cwd=REPO_ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        if proc.returncode != 0 or not out.exists():
            return {"system": "memplane", "store": store, "size": size,
                    "error": f"worker exited with {proc.returncode}"}
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return result


def compare(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """mem0 figure / memplane figure for every size both ran (higher = memplane better)."""
    out: dict[str, Any] = {}
    mem0 = {r["size"]: r for r in runs if r.get("system") == "mem0"}
    for r in runs:
        if r.get("system") != "memplane" or "error" in r or r["size"] not in mem0:
            continue
        m = mem0[r["size"]]
        out[f"{r['store']}@{r['size']}"] = {
            "search_p50_excluding_embedding_speedup": ratio(
                m["search_excluding_embedding"]["p50_ms"], r["search_excluding_embedding"]["p50_ms"], 1
            ),
            "search_p50_end_to_end_speedup": ratio(
                m["search_end_to_end"]["p50_ms"], r["search_end_to_end"]["p50_ms"], 1
            ),
            "add_rate_speedup": ratio(r["adds_per_s"], m["adds_per_s"], 1),
            "prompt_tokens_fewer": ratio(m["prompt_tokens_per_add"], r["prompt_tokens_per_add"], 1),
            "peak_rss_ratio": ratio(m["peak_rss_mb"], r["peak_rss_mb"], 2),
        }
    return out


# --- the worker (one store, one size, its own process) ----------------------------------


def worker(store_name: str, size: int, queries: int) -> dict[str, Any]:
    from tests.bench.memplane_side import (
        DIMENSION,
        TableEmbedder,
        TimedScriptedLLM,
        make_memory,
        milvus_store,
        sentence_embedder,
        sqlite_store,
    )
    from tests.bench.timing import latency_summary, peak_rss_mb
    from tests.bench.vectors import VectorTable, synthetic_texts, unit_vectors

    texts = synthetic_texts(size)
    query_texts = [f"what did the user say about topic {i}?" for i in range(queries)]
    table = VectorTable(DIMENSION)
    table.put(texts, unit_vectors(size, DIMENSION, seed=1))
    table.put(query_texts, unit_vectors(queries, DIMENSION, seed=2))
    workdir = Path(tempfile.mkdtemp(prefix=f"scaling-{store_name}-"))
    store = sqlite_store(workdir / "s.db") if store_name == "sqlite" else milvus_store(workdir / "m.db")
    if store is None:
        return {"system": "memplane", "store": store_name, "size": size, "error": "store unavailable"}
    llm = TimedScriptedLLM()
    memory = make_memory(store=store, embedder=TableEmbedder(table), llm=llm)

    start = time.perf_counter()
    for text in texts:
        memory.add(text, user_id=SCOPE, infer=False)
    add_seconds = time.perf_counter() - start

    def search_all(mem: Any) -> dict[str, float]:
        mem.search(query_texts[0], user_id=SCOPE, limit=10)  # warm up
        laps = []
        for q in query_texts:
            t0 = time.perf_counter()
            hits = mem.search(q, user_id=SCOPE, limit=10)
            laps.append(time.perf_counter() - t0)
        assert hits, "search found nothing"
        return latency_summary(laps)

    excluding = search_all(memory)
    e2e_memory = make_memory(store=store, embedder=sentence_embedder(), llm=llm)
    end_to_end = search_all(e2e_memory)

    llm.requests.clear()
    llm.queue(*[
        {"decisions": [{"event": "ADD", "text": f"Learns the cello, week {i}", "reason": "new"}]}
        for i in range(INFER_ADDS)
    ])
    usage_calls = usage_tokens = 0
    add_laps = []
    for i in range(INFER_ADDS):
        t0 = time.perf_counter()
        result = memory.add(f"I started learning the cello in week {i}.", user_id=SCOPE)
        add_laps.append(time.perf_counter() - t0)
        usage_calls += result.usage.llm_calls
        usage_tokens += result.usage.prompt_tokens
    figures = {
        "system": "memplane",
        "store": store_name,
        "size": size,
        "add_seconds": round(add_seconds, 2),
        "adds_per_s": round(size / add_seconds, 1),
        "search_excluding_embedding": excluding,
        "search_end_to_end": end_to_end,
        "infer_add": latency_summary(add_laps),
        "llm_calls_per_add": usage_calls / INFER_ADDS,
        "prompt_tokens_per_add": usage_tokens / INFER_ADDS,
        "peak_rss_mb": peak_rss_mb(),
    }
    memory.close()
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.scaling_bench")
    parser.add_argument("--store", choices=["sqlite", "milvus"], required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    figures = worker(args.store, args.size, args.queries)
    Path(args.out).write_text(json.dumps(figures, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
