"""Scale benchmark of the sqlite store: batched ingest and many tenants.

``ingest``: ``SQLiteStore.apply`` in batches of 1,000 new memories (records, vectors,
history entries, keyword index, version checks), against a raw SQLite insert of the
same rows (id, scope, text, vector blob) in batches of 1,000 per transaction, in the
same run: rounds alternate, and the wall-clock and CPU ratios are of the median rounds.

``tenants``: N memories across S scopes (384 dims, random unit vectors), written with
the store's batched write (``_apply``: the same transaction, checks and SQL as
``apply``, without the base class's per-argument validation, which costs more than the
SQL at this volume); then, in a fresh process, RSS after opening, search of R random
scopes once each (cold: the scope's vectors are read into the cache by that search),
RSS after that, and p50/p99 of repeated searches of one scope (warm).

    python -m tests.bench.tenants_bench ingest --rows 20000
    python -m tests.bench.tenants_bench tenants --rows 1000000 --scopes 10000
    python -m tests.bench.tenants_bench tenants --rows 10000000 --scopes 100000   # ~25 GB file
    python -m tests.bench.tenants_bench upgrade --db OLD.db   # time the schema upgrade
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

DIMENSION = 384
BATCH = 1000


def rss_mb() -> float:
    """Current resident set size of this process (not the peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def _changes(start: int, count: int, scopes: int, rng: np.random.Generator,
             history: bool) -> list[Any]:
    from memplane.models import Change, HistoryEntry, HistoryEvent, MemoryRecord, Scope

    vectors = rng.standard_normal((count, DIMENSION), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    out = []
    for i in range(count):
        n = start + i
        record = MemoryRecord(text=f"memory {n}: the user mentioned topic {n % 997} on day {n // 97}",
                              scope=Scope(user_id=f"user-{n % scopes}"))
        entry = (HistoryEntry(memory_id=record.id, event=HistoryEvent.ADD, new_text=record.text)
                 if history else None)
        out.append(Change(record=record, vector=vectors[i].tolist(), history=entry))
    return out


def _store_round(batches: list[list[Any]], path: Path) -> tuple[float, float]:
    """Wall and CPU seconds of ``SQLiteStore.apply`` over the batches, fresh file."""
    from memplane.stores.sqlite import SQLiteStore

    store = SQLiteStore(path=str(path))
    store.open(DIMENSION)
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        store.apply(batch)
    laps = time.perf_counter() - wall, time.process_time() - cpu
    store.close()
    return laps


def _raw_round(batches: list[list[Any]], path: Path) -> tuple[float, float]:
    """Wall and CPU seconds of the raw baseline: one table, one index, the same rows."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE m (id TEXT PRIMARY KEY, scope TEXT, text TEXT, vector BLOB)")
    wall, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        con.execute("BEGIN")
        con.executemany("INSERT INTO m VALUES (?, ?, ?, ?)", [
            (uuid.uuid4().hex, c.record.scope.user_id, c.record.text,
             np.asarray(c.vector, dtype=np.float32).tobytes()) for c in batch])
        con.execute("COMMIT")
    laps = time.perf_counter() - wall, time.process_time() - cpu
    con.close()
    return laps


def ingest(rows: int, directory: Path, rounds: int) -> dict[str, Any]:
    """Store and raw rounds alternate (fresh files each), so a change in the machine's
    load hits both; the ratio is taken from the median round of each."""
    rng = np.random.default_rng(0)
    store_laps: list[tuple[float, float]] = []
    raw_laps: list[tuple[float, float]] = []
    for n in range(rounds):
        batches = [_changes(i, BATCH, 100, rng, True) for i in range(0, rows, BATCH)]
        store_laps.append(_store_round(batches, directory / f"ingest-{n}.db"))
        raw_laps.append(_raw_round(batches, directory / f"raw-{n}.db"))
        for leftover in directory.glob(f"*-{n}.db*"):
            leftover.unlink()
    store_wall, store_cpu = (float(np.median([lap[k] for lap in store_laps])) for k in (0, 1))
    raw_wall, raw_cpu = (float(np.median([lap[k] for lap in raw_laps])) for k in (0, 1))
    return {"rows": rows, "batch": BATCH, "rounds": rounds,
            "store_apply_per_s": round(rows / store_wall, 1),
            "raw_sqlite_per_s": round(rows / raw_wall, 1), "ratio": round(raw_wall / store_wall, 3),
            "cpu_ratio": round(raw_cpu / store_cpu, 3),
            "rounds_ratio": [round(r[0] / s[0], 3) for s, r in zip(store_laps, raw_laps, strict=True)]}


def build_tenants(path: Path, rows: int, scopes: int) -> dict[str, Any]:
    from memplane.stores.sqlite import SQLiteStore

    store = SQLiteStore(path=str(path), cache_vectors=False)
    store.open(DIMENSION)
    rng = np.random.default_rng(1)
    start = time.perf_counter()
    for i in range(0, rows, 10 * BATCH):
        store._apply(_changes(i, min(10 * BATCH, rows - i), scopes, rng, False))
        if i % 100_000 == 0:
            print(f"  {i:,} rows, {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - start
    store.close()
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())
    return {"rows": rows, "scopes": scopes, "ingest_seconds": round(seconds, 1),
            "ingest_per_s": round(rows / seconds, 1), "file_mb": round(size / 2**20, 1)}


def search_tenants(path: Path, scopes: int, probes: int, warm: int, cache_mb: int) -> dict[str, Any]:
    from memplane.models import Scope
    from memplane.stores.sqlite import SQLiteStore

    base = rss_mb()
    store = SQLiteStore(path=str(path), cache_max_mb=cache_mb)
    store.open(DIMENSION)
    opened = rss_mb()
    rng = np.random.default_rng(2)
    queries = rng.standard_normal((probes, DIMENSION), dtype=np.float32)
    chosen = random.Random(3).sample(range(scopes), min(probes, scopes))
    cold = []
    for scope_no, q in zip(chosen, queries, strict=False):
        start = time.perf_counter()
        store.search(q.tolist(), Scope(user_id=f"user-{scope_no}"), limit=10)
        cold.append(time.perf_counter() - start)
    after = rss_mb()
    scope = Scope(user_id=f"user-{chosen[0]}")
    laps = []
    for q in queries[:warm]:
        start = time.perf_counter()
        store.search(q.tolist(), scope, limit=10)
        laps.append(time.perf_counter() - start)
    cache_bytes = store._cache.nbytes
    store.close()
    return {
        "cache_max_mb": cache_mb, "rss_before_open_mb": round(base, 1),
        "rss_after_open_mb": round(opened, 1), "rss_after_searches_mb": round(after, 1),
        "rss_growth_mb": round(after - opened, 1), "cache_mb_at_end": round(cache_bytes / 2**20, 1),
        "scopes_searched": len(cold), "cold_p50_ms": round(_pct(cold, 50), 2),
        "cold_p99_ms": round(_pct(cold, 99), 2), "warm_p50_ms": round(_pct(laps, 50), 3),
        "warm_p99_ms": round(_pct(laps, 99), 3),
    }


def upgrade_file(path: Path) -> dict[str, Any]:
    """Open a file written by an older build: the schema migration runs in the first
    write transaction. Wall and CPU time and peak RSS of that open (the migration is
    streamed: peak RSS must not grow with the file)."""
    import logging
    import resource

    from memplane.models import Scope
    from memplane.stores.sqlite import SQLiteStore
    from memplane.stores.sqlite.schema import stored_version

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    with sqlite3.connect(path) as conn:
        before = stored_version(conn)
    wall, cpu = time.perf_counter(), time.process_time()
    store = SQLiteStore(path=str(path))
    store.open(DIMENSION)
    store.get([], Scope(user_id="user-0"))
    store.close()  # includes the checkpoint of the migration's write-ahead log
    return {"schema_before": before, "upgrade_wall_s": round(time.perf_counter() - wall, 1),
            "upgrade_cpu_s": round(time.process_time() - cpu, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    parser = argparse.ArgumentParser(prog="python -m tests.bench.tenants_bench")
    parser.add_argument("what", choices=["ingest", "tenants", "search", "upgrade"])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5, help="ingest: alternating store/raw rounds")
    parser.add_argument("--scopes", type=int, default=10_000)
    parser.add_argument("--probes", type=int, default=10_000, help="random scopes searched")
    parser.add_argument("--warm", type=int, default=1000, help="searches of one warm scope")
    parser.add_argument("--cache-mb", type=int, default=512)
    parser.add_argument("--db", type=Path, help="existing tenants database (search, upgrade)")
    parser.add_argument("--dir", type=Path, default=None, help="where the database goes")
    parser.add_argument("--out", type=Path, default=None, help="append the JSON result here")
    args = parser.parse_args(argv)
    directory = args.dir or Path(tempfile.mkdtemp(prefix="memplane-tenants-"))
    directory.mkdir(parents=True, exist_ok=True)
    load = list(os.getloadavg())
    if args.what == "ingest":
        result: dict[str, Any] = ingest(args.rows, directory, args.rounds)
    elif args.what == "search":
        result = search_tenants(args.db, args.scopes, args.probes, args.warm, args.cache_mb)
    elif args.what == "upgrade":
        result = upgrade_file(args.db)
    else:
        path = directory / "tenants.db"
        result = build_tenants(path, args.rows, args.scopes)
        child = subprocess.run(  # a fresh process: its RSS is the reader's alone
            [sys.executable, "-m", "tests.bench.tenants_bench", "search", "--db", str(path),
             "--scopes", str(args.scopes), "--probes", str(args.probes), "--warm",
             str(args.warm), "--cache-mb", str(args.cache_mb)],
            check=True, capture_output=True, text=True,
        )
        result |= json.loads(child.stdout.strip().splitlines()[-1])
    result["load_average"] = [load, list(os.getloadavg())]
    result["command"] = "python -m tests.bench.tenants_bench " + " ".join(argv or sys.argv[1:])
    line = json.dumps(result)
    print(line, flush=True)
    if args.out:
        with args.out.open("a") as fh:
            fh.write(line + "\n")


if __name__ == "__main__":
    main()
