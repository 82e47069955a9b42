"""Large-scope benchmark of the sqlite store: approximate (HNSW, usearch) vs exact search.

One scope of N memories, 384 dims. Vectors are clustered (2,000 random centres, each
point a centre plus Gaussian noise of the same norm, normalised), because real
sentence embeddings have structure; independent random vectors are the worst case
for any graph index (recall there was below 0.3 at the same settings in a probe).
Queries are fresh points from the same mixture. Both sides run through
``SQLiteStore.search`` (cache warm, records hydrated), in the same process and run:

- exact: ``ann=False``;
- ann: ``ann_min_rows=1``, index built inline by the first search (timed), then
  recall@10 against the exact ids and p50/p99;
- reopen: a new store on the same file; its first search loads the saved index
  (timed) instead of building it.

    python -m tests.bench.ann_bench --rows 100000
    python -m tests.bench.ann_bench --rows 1000000 --build-threads 2   # ~1.5 GB vectors
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

import numpy as np

DIMENSION = 384


def clustered(count: int, seed: int, centres: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, centres.shape[0], count)
    noise = rng.standard_normal((count, DIMENSION), dtype=np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    vectors = centres[picks] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def _timed(store: Any, queries: np.ndarray, scope: Any) -> tuple[list[list[str]], list[float]]:
    results, laps = [], []
    for q in queries:
        start = time.perf_counter()
        hits = store.search(q.tolist(), scope, limit=10)
        laps.append(time.perf_counter() - start)
        results.append([h.id for h in hits])
    return results, laps


def _ms(laps: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(laps) * 1000.0, q)), 3)


def run(rows: int, queries: int, dtype: str, build_threads: int, efs: list[int],
        directory: Path, reuse: bool = False) -> dict[str, Any]:
    from memplane.models import Change, MemoryRecord, Scope
    from memplane.stores.sqlite import SQLiteStore

    scope = Scope(user_id="big")
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((2000, DIMENSION), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    path = directory / "ann.db"
    start = time.perf_counter()
    if not (reuse and path.exists()):  # --reuse: the rows (and saved index) of a prior run
        writer = SQLiteStore(path=str(path), cache_vectors=False)
        writer.open(DIMENSION)
        for i in range(0, rows, 10_000):
            count = min(10_000, rows - i)
            vectors = clustered(count, 1 + i, centres)
            writer._apply([Change(record=MemoryRecord(text=f"memory {i + j}", scope=scope),
                                  vector=v.tolist()) for j, v in enumerate(vectors)])
        writer.close()
    ingest = time.perf_counter() - start
    probe = clustered(queries, 10**9, centres)

    exact = SQLiteStore(path=str(path), ann=False, cache_max_mb=8192)
    exact.search(probe[0].tolist(), scope)  # cache build, not timed
    truth, exact_laps = _timed(exact, probe, scope)
    exact.close()

    settings: dict[str, Any] = {"ann_min_rows": 1, "ann_background_build": False, "ann_dtype": dtype,
                "ann_build_threads": build_threads, "ann_expansion_search": efs[0],
                "cache_max_mb": 8192}
    ann = SQLiteStore(path=str(path), **settings)
    start = time.perf_counter()
    ann.search(probe[0].tolist(), scope)
    build = time.perf_counter() - start
    by_ef = []
    for ef in efs:  # ef_search is a search-time setting: one build serves every value
        ann._cache.entry(tuple(scope.items()), DIMENSION).ann.index.expansion_search = ef
        found, ann_laps = _timed(ann, probe, scope)
        recall = float(np.mean([len(set(a) & set(t)) / max(len(t), 1)
                                for a, t in zip(found, truth, strict=True)]))
        by_ef.append({"ef_search": ef, "ann_p50_ms": _ms(ann_laps, 50),
                      "ann_p99_ms": _ms(ann_laps, 99), "recall_at_10": round(recall, 4),
                      "speedup_p50": round(float(np.median(exact_laps) / np.median(ann_laps)), 2)})
    ann.close()

    reopened = SQLiteStore(path=str(path), **settings)
    start = time.perf_counter()
    reopened.search(probe[0].tolist(), scope)
    reopen = time.perf_counter() - start
    reopened.close()
    index_mb = sum(p.stat().st_size for p in (directory / "ann.db.ann").glob("*.usearch")) / 2**20
    return {
        "rows": rows, "queries": queries, "dtype": dtype,
        "ingest_seconds": round(ingest, 1),
        "exact_p50_ms": _ms(exact_laps, 50), "exact_p99_ms": _ms(exact_laps, 99),
        "ann": by_ef,
        "first_search_with_build_s": round(build, 1),
        "first_search_after_reopen_s": round(reopen, 2),
        "index_file_mb": round(index_mb, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.ann_bench")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--dtype", default="i8", choices=["f32", "f16", "i8"])
    parser.add_argument("--ef", default="128,256,512", help="ann_expansion_search values")
    parser.add_argument("--build-threads", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true",
                        help="keep the database (and saved index) already in --dir")
    parser.add_argument("--out", type=Path, default=None, help="append the JSON result here")
    args = parser.parse_args(argv)
    directory = args.dir or Path(tempfile.mkdtemp(prefix="memplane-ann-"))
    directory.mkdir(parents=True, exist_ok=True)
    load = list(os.getloadavg())
    result = run(args.rows, args.queries, args.dtype, args.build_threads,
                 [int(x) for x in args.ef.split(",")], directory, args.reuse)
    result["load_average"] = [load, list(os.getloadavg())]
    result["command"] = "python -m tests.bench.ann_bench " + " ".join(argv or sys.argv[1:])
    line = json.dumps(result)
    print(line, flush=True)
    if args.out:
        with args.out.open("a") as fh:
            fh.write(line + "\n")


if __name__ == "__main__":
    main()
