"""Exact vector search of the SQLite store: numpy cosine over the cached scope matrix.

A search reads inside one read transaction: :func:`catch_up` brings the scope's
cached vectors to that snapshot, then :func:`best` (no filter) or
:func:`best_filtered` picks the rows, and :func:`records_by_seq` loads them.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import numpy as np

from memplane.models import MemoryRecord, Scope
from memplane.stores.sqlite.ann import ScopeIndex
from memplane.stores.sqlite.codec import record_from_row
from memplane.stores.sqlite.filter_sql import SQLFilter
from memplane.stores.sqlite.sql import COLUMNS, chunks, marks, scope_sql
from memplane.stores.sqlite.vector_cache import ScopeMatrix

# filtered search: the first round checks the filter on this many best rows per hit
# wanted (at least _FIRST_ROUND_MIN); rounds stop once they would reach 1/_SCAN_SHARE
# of the scope: a filter that selective is cheaper to run as one SQL scan of the scope
_FIRST_ROUND_PER_HIT = 4
_FIRST_ROUND_MIN = 64
_SCAN_SHARE = 32


def rank(cosines: np.ndarray, seqs: np.ndarray, k: int) -> np.ndarray:
    """Positions of the best ``k`` scores (plus every row tied with the worst of them),
    best first, equal scores in insertion (``seq``) order."""
    if k < cosines.size:
        top = np.argpartition(-cosines, k - 1)[:k]
        top = np.flatnonzero(cosines >= cosines[top].min())
    else:
        top = np.arange(cosines.size)
    return top[np.lexsort((seqs[top], -cosines[top]))]


def scored(seqs: np.ndarray, cosines: np.ndarray, chosen: np.ndarray) -> tuple[list[int], list[float]]:
    """Seqs and similarities in [0, 1] of the chosen positions, in their order."""
    scores = np.clip((1.0 + cosines[chosen].astype(np.float64)) / 2.0, 0.0, 1.0)
    return seqs[chosen].tolist(), scores.tolist()  # Python ints and floats, in one call each


def catch_up(entry: ScopeMatrix, conn: sqlite3.Connection, scope: Scope) -> None:
    """Bring the scope's vectors to this transaction's snapshot (hold ``entry.lock``)."""
    generation, epoch = conn.execute("SELECT generation, epoch FROM state WHERE id = 1").fetchone()
    if entry.generation == generation and entry.epoch == epoch:
        return
    where, params = scope_sql(scope)
    select = (
        "SELECT r.seq, r.id, v.vector, r.deleted_at, r.expires_at, r.gen "
        "FROM records r JOIN vectors v ON v.seq = r.seq WHERE "
    )
    if entry.epoch != epoch or entry.generation < 0 or entry.generation > generation:
        entry.clear()
        rows = conn.execute(f"{select} {where} ORDER BY r.seq", params).fetchall()
    else:  # only what was written since: this process's writes and everyone else's
        delta_scope, _ = scope_sql(scope, alias="+r")  # use the gen index, not a scope one
        rows = conn.execute(
            f"{select} r.gen > ? AND {delta_scope}", [entry.generation, *params]
        ).fetchall()
        entry.remove(row[0] for row in conn.execute(
            "SELECT seq FROM tombstones WHERE gen > ?", [entry.generation]))
    entry.upsert(rows)
    entry.generation, entry.epoch = generation, epoch


def best_filtered(conn: sqlite3.Connection, entry: ScopeMatrix, query: np.ndarray,
                   limit: int, scope: Scope, visibility: tuple[str, list[Any]],
                   translated: SQLFilter, include_deleted: bool) -> tuple[list[int], list[float]]:
    """The best ``limit`` rows that pass the filter, without running it over the scope.

    Score every live row, then check visibility and filter in SQL on the best ``k``
    only, by rowid; when fewer than ``limit`` pass, widen ``k`` fourfold. Every row
    outside a round scores strictly below every row inside it (ties are widened in),
    so the first ``limit`` passing rows of a round are the answer. A selective filter
    that would need a large share of the scope falls back to one SQL scan of it.
    """
    n = entry.size
    if n == 0:
        return [], []
    live = entry.alive[:n].copy()
    if not include_deleted:
        live &= ~entry.deleted[:n]  # exact for this snapshot; expiry is left to SQL
    if live.all():  # score the cached matrix in place, without copying it
        seqs = entry.seqs[:n]
        cosines = np.einsum("ij,j->i", entry.matrix[:n], query)
    else:
        candidates = np.flatnonzero(live)
        if candidates.size == 0:
            return [], []
        seqs = entry.seqs[candidates]
        cosines = np.einsum("ij,j->i", entry.matrix[candidates], query)
    total = seqs.size
    vis_sql, vis_params = visibility
    k = max(_FIRST_ROUND_PER_HIT * limit, _FIRST_ROUND_MIN)
    by_rowid, by_rowid_params = scope_sql(scope, alias="+r")  # no scope index scan
    checked: set[int] = set()
    passing: set[int] = set()
    while k * _SCAN_SHARE < total:
        ranked = rank(cosines, seqs, k)
        fresh = [seq for seq in seqs[ranked].tolist() if seq not in checked]
        for chunk in chunks(fresh):  # earlier rounds' rows are not checked again
            passing.update(row[0] for row in conn.execute(
                f"SELECT r.seq FROM records r WHERE r.seq IN ({marks(len(chunk))}) "
                f"AND {by_rowid} AND {vis_sql} AND {translated.sql}",
                [*chunk, *by_rowid_params, *vis_params, *translated.params],
            ))
        checked.update(fresh)
        kept = [i for i in ranked.tolist() if int(seqs[i]) in passing][:limit]
        if len(kept) == limit or ranked.size == total:  # enough, or every row checked
            return scored(seqs, cosines, np.asarray(kept, dtype=np.int64))
        k *= 4
    where, scope_params = scope_sql(scope)
    allowed = np.fromiter(
        (row[0] for row in conn.execute(
            f"SELECT r.seq FROM records r WHERE {where} AND {vis_sql} AND {translated.sql}",
            [*scope_params, *vis_params, *translated.params],
        )),
        dtype=np.int64,
    )
    keep = np.isin(seqs, allowed)
    if not keep.any():
        return [], []
    seqs, cosines = seqs[keep], cosines[keep]
    return scored(seqs, cosines, rank(cosines, seqs, limit)[:limit])


def best(entry: ScopeMatrix, query: np.ndarray, limit: int,
          include_deleted: bool, include_expired: bool) -> tuple[list[int], list[float]]:
    """The best ``limit`` visible rows of the scope (no filter)."""
    n = entry.size
    if n == 0:
        return [], []
    seqs = entry.seqs[:n]
    mask = entry.alive[:n].copy()
    if not include_deleted:
        mask &= ~entry.deleted[:n]
    if not include_expired:
        mask &= entry.expires[:n] > time.time()
    # einsum runs on the calling thread; a BLAS matrix-vector product may fan out
    # to worker threads, which costs more than it saves on a busy machine
    if mask.all():
        cosines = np.einsum("ij,j->i", entry.matrix[:n], query)
    else:
        candidates = np.flatnonzero(mask)
        if candidates.size == 0:
            return [], []
        seqs = seqs[candidates]
        cosines = np.einsum("ij,j->i", entry.matrix[candidates], query)
    return scored(seqs, cosines, rank(cosines, seqs, limit)[:limit])


def records_by_seq(conn: sqlite3.Connection, seqs: list[int], scope: Scope) -> dict[int, MemoryRecord]:
    # unary + keeps SQLite from scanning a scope index instead of looking up rowids
    where, scope_params = scope_sql(scope, alias="+r")
    rows = conn.execute(
        f"SELECT r.seq, {COLUMNS} FROM records r WHERE r.seq IN ({marks(len(seqs))}) AND {where}",
        [*seqs, *scope_params],
    )
    return {row[0]: record_from_row(row[1:]) for row in rows}


# approximate search: candidates asked of the index per hit wanted (at least
# _ANN_MIN); widened fourfold while too few survive visibility and filter, up to
# 1/_SCAN_SHARE of the scope, then the exact path answers
_ANN_PER_HIT = 10
_ANN_MIN = 100


def _ann_pool(entry: ScopeMatrix, ann: ScopeIndex, query: np.ndarray, k: int,
              visible: np.ndarray) -> np.ndarray:
    """Positions to score exactly: the index's ``k`` candidates that are still current
    (not rewritten since the index was built) and visible, plus every visible row
    written since the index was built (the index cannot know those)."""
    n = entry.size
    position = entry.position
    found = [position.get(seq) for seq in ann.candidates(query, k).tolist()]
    pool = np.fromiter((p for p in found if p is not None), dtype=np.int64)
    newer = entry.gens[:n] > ann.generation
    pool = pool[~newer[pool] & visible[pool]] if pool.size else pool
    return np.union1d(pool, np.flatnonzero(newer & visible))


def _visible(entry: ScopeMatrix, include_deleted: bool, include_expired: bool) -> np.ndarray:
    n = entry.size
    mask = entry.alive[:n].copy()
    if not include_deleted:
        mask &= ~entry.deleted[:n]
    if not include_expired:
        mask &= entry.expires[:n] > time.time()
    return mask


def best_ann(entry: ScopeMatrix, ann: ScopeIndex, query: np.ndarray, limit: int,
             include_deleted: bool, include_expired: bool) -> tuple[list[int], list[float]]:
    """Like :func:`best`, from the index's candidates re-scored exactly."""
    visible = _visible(entry, include_deleted, include_expired)
    total = int(np.count_nonzero(visible))
    k = max(_ANN_PER_HIT * limit, _ANN_MIN)
    while True:
        pool = _ann_pool(entry, ann, query, k, visible)
        if pool.size >= min(limit, total):
            seqs = entry.seqs[pool]
            cosines = np.einsum("ij,j->i", entry.matrix[pool], query)
            return scored(seqs, cosines, rank(cosines, seqs, limit)[:limit])
        if k * _SCAN_SHARE >= total or k >= ann.count:  # too few survive: exact
            return best(entry, query, limit, include_deleted, include_expired)
        k *= 4


def best_filtered_ann(conn: sqlite3.Connection, entry: ScopeMatrix, ann: ScopeIndex,
                      query: np.ndarray, limit: int, scope: Scope,
                      visibility: tuple[str, list[Any]], translated: SQLFilter,
                      include_deleted: bool) -> tuple[list[int], list[float]]:
    """Like :func:`best_filtered`, from the index's candidates: over-fetch, check the
    filter in SQL on those rows only, widen while too few pass, then fall back to the
    exact path. Expiry is left to SQL, as there."""
    visible = _visible(entry, include_deleted, include_expired=True)
    total = int(np.count_nonzero(visible))
    vis_sql, vis_params = visibility
    by_rowid, by_rowid_params = scope_sql(scope, alias="+r")
    k = max(_ANN_PER_HIT * limit, _ANN_MIN)
    while k * _SCAN_SHARE < total and k < ann.count:
        pool = _ann_pool(entry, ann, query, k, visible)
        seqs = entry.seqs[pool]
        passing: set[int] = set()
        for chunk in chunks(seqs.tolist()):
            passing.update(row[0] for row in conn.execute(
                f"SELECT r.seq FROM records r WHERE r.seq IN ({marks(len(chunk))}) "
                f"AND {by_rowid} AND {vis_sql} AND {translated.sql}",
                [*chunk, *by_rowid_params, *vis_params, *translated.params],
            ))
        if len(passing) >= limit:
            keep = np.fromiter((int(s) in passing for s in seqs), dtype=bool, count=seqs.size)
            seqs, rows = seqs[keep], pool[keep]
            cosines = np.einsum("ij,j->i", entry.matrix[rows], query)
            return scored(seqs, cosines, rank(cosines, seqs, limit)[:limit])
        k *= 4
    return best_filtered(conn, entry, query, limit, scope, visibility, translated,
                         include_deleted)
