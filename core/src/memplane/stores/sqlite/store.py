"""The embedded vector store: one SQLite file with records, vectors, history and FTS5.

The work is split by job: :mod:`.transactions` (connections, schema, error
mapping), :mod:`.writes` (contract-v2 checked writes), :mod:`.vector_search` and
:mod:`.keyword_search`. This module wires them to the store hooks.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from memplane.errors import ConfigurationError, DimensionMismatch, ValidationError
from memplane.filters import Filter
from memplane.models import Change, HistoryEntry, MemoryRecord, Page, Scope, SearchHit
from memplane.providers.base import Candidates, ProviderConfig, VectorStore
from memplane.providers.identity import EmbedderIdentity
from memplane.stores.sqlite import fts
from memplane.stores.sqlite.ann import AnnManager, AnnSettings
from memplane.stores.sqlite.codec import PENDING_ADD, pending_add_row, query_vector, record_from_row
from memplane.stores.sqlite.connections import MEMORY
from memplane.stores.sqlite.filter_sql import FALLBACK_FUNCTION, FallbackNodes, FilterTranslator
from memplane.stores.sqlite.keyword_search import ProbeCache, keyword_hits, keyword_light
from memplane.stores.sqlite.light import light_hit, light_rows
from memplane.stores.sqlite.sql import COLUMNS, chunks, marks, scope_sql, visibility_sql
from memplane.stores.sqlite.transactions import Database, stored_dimension
from memplane.stores.sqlite.vector_cache import ScopeMatrix, VectorCache
from memplane.stores.sqlite.vector_search import (
    best,
    best_ann,
    best_filtered,
    best_filtered_ann,
    catch_up,
    records_by_seq,
)
from memplane.stores.sqlite.writes import apply_changes, delete_records, reset_all


def default_path() -> str:
    home = os.environ.get("MEMPLANE_HOME") or "~/.memplane"
    return str(Path(home).expanduser() / "memory.db")


class SQLiteStoreConfig(ProviderConfig):
    path: str = Field(
        default_factory=default_path,
        description="database file; default $MEMPLANE_HOME/memory.db (~/.memplane); "
        "':memory:' for a private in-process database",
    )
    busy_timeout_ms: int = Field(
        default=30000, ge=0, description="how long a writer waits for the write lock"
    )
    cache_vectors: bool = Field(
        default=True, description="keep each searched scope's vectors in memory"
    )
    cache_max_mb: int = Field(
        default=512, ge=1,
        description="memory budget of the vector cache (vectors, their bookkeeping and "
        "approximate indexes), in MiB; least recently searched scopes are dropped first",
    )
    ann: bool = Field(
        default=True,
        description="use an approximate (HNSW) index for scopes of at least ann_min_rows "
        "rows when the `ann` extra (usearch) is installed; exact search otherwise",
    )
    ann_min_rows: int = Field(
        default=100_000, ge=1,
        description="scope size from which the approximate index is used",
    )
    ann_dtype: Literal["f32", "f16", "i8"] = Field(
        default="i8",
        description="how the index stores vectors (i8: int8 quantisation); candidates "
        "are always re-scored exactly with float32",
    )
    ann_connectivity: int = Field(default=16, ge=2, description="HNSW links per node (M)")
    ann_expansion_add: int = Field(default=128, ge=1, description="HNSW ef_construction")
    ann_expansion_search: int = Field(
        default=256, ge=1,
        description="HNSW ef_search: 256 kept recall@10 >= 0.95 in ann_bench at 10k and 100k",
    )
    ann_background_build: bool = Field(
        default=True,
        description="build indexes on a background thread (searches stay exact until "
        "ready); false builds inside the search that needs one",
    )
    ann_build_threads: int = Field(default=1, ge=1, description="threads per index build")
    common_term_share: float = Field(
        default=0.1, gt=0.0, le=1.0,
        description="keyword search leaves out query words found in more than this share "
        "of the scope's rows (and in more than 20 rows); 1 keeps every word",
    )


class SQLiteStore(VectorStore[SQLiteStoreConfig]):
    """Records, vectors, history and a keyword index in one SQLite file.

    WAL mode and a busy timeout let threads and processes share the file; every
    write is one ``BEGIN IMMEDIATE`` transaction that checks versions, then writes
    the records, history and keyword index. Vector search is exact cosine similarity
    with numpy over an in-process cache of the scope's vectors (see
    ``docs/sqlite-store.md``).
    """

    name: ClassVar[str] = "sqlite"
    Config: ClassVar[type[ProviderConfig]] = SQLiteStoreConfig
    capabilities: ClassVar[frozenset[str]] = frozenset(
        ["keyword_search", "persistent", "atomic_apply", "concurrent_writers", "vector_read",
         "store_info", "candidate_search"]
    )
    filter_operators: ClassVar[frozenset[str]] = frozenset(
        ["eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "exists",
         "AND", "OR", "NOT"]
    )

    def __init__(self, config: ProviderConfig | Mapping[str, Any] | None = None, **overrides: Any):
        super().__init__(config, **overrides)
        path = str(self.config.path)
        if path != MEMORY:
            path = str(Path(path).expanduser())
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot create the directory of the sqlite store {path!r}: {exc}; "
                    f"set vector_store.config.path to a writable location"
                ) from None
        self._fallback = FallbackNodes()
        self._db = Database(path, int(self.config.busy_timeout_ms), self._setup, self.name)
        self._cache = VectorCache(int(self.config.cache_max_mb) * 1024 * 1024)
        self._probes = ProbeCache()  # keyword probes, reused while the database is unchanged
        c = self.config
        self._ann = AnnManager(AnnSettings(
            enabled=bool(c.ann) and bool(c.cache_vectors), min_rows=int(c.ann_min_rows),
            dtype=str(c.ann_dtype), connectivity=int(c.ann_connectivity),
            expansion_add=int(c.ann_expansion_add),
            expansion_search=int(c.ann_expansion_search),
            background=bool(c.ann_background_build),
            build_threads=int(c.ann_build_threads),
            directory=None if path == MEMORY else Path(path + ".ann"),
        ))
        self._dimension: int | None = None

    @property
    def path(self) -> str:
        return self._db.path

    @property
    def location(self) -> str:
        """The file's absolute path (a relative one depends on where the command ran)."""
        return self.path if self.path == MEMORY else str(Path(self.path).resolve())

    def _setup(self, conn: sqlite3.Connection) -> None:
        conn.create_function(FALLBACK_FUNCTION, 7, self._fallback.evaluate)

    # --- lifecycle --------------------------------------------------------------------------
    def _open(self, dimension: int) -> None:
        with self._db.write() as (conn, _generation):
            stored = stored_dimension(conn)
            if stored is not None and stored != dimension:
                has_vectors = conn.execute("SELECT 1 FROM vectors LIMIT 1").fetchone()
                if has_vectors:
                    row = conn.execute("SELECT value FROM meta WHERE key = 'info:embedder'").fetchone()
                    recorded = EmbedderIdentity.decode(row[0]) if row else None
                    raise DimensionMismatch(
                        store=f"sqlite:{self.path}", store_dimension=stored,
                        embedder_dimension=dimension,
                        recorded=recorded.describe() if recorded else None,
                    )
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('dimension', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(dimension),),
            )
        self._dimension = dimension

    def close(self) -> None:
        # background index builds are not awaited (one can take many minutes); a build
        # that finishes later still saves its file, which the next start loads
        self._db.close()
        self._cache.clear()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- writes -------------------------------------------------------------------------------
    def _apply(self, changes: list[Change]) -> None:
        with self._db.write() as (conn, generation):
            dimension = apply_changes(conn, generation, changes)
        if dimension is not None:
            self._dimension = dimension

    def _delete(self, ids: list[str], scope: Scope) -> int:
        with self._db.write() as (conn, generation):
            return delete_records(conn, generation, ids, scope)

    def _reset(self) -> None:
        with self._db.write() as (conn, _generation):
            reset_all(conn)
            conn.execute("DELETE FROM meta WHERE key LIKE 'info:%'")  # with the vectors it described
        self._cache.clear()

    # --- store info: rows of the meta table, keys prefixed "info:" -------------------------
    def _get_info(self, key: str) -> str | None:
        with self._db.read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", ("info:" + key,)).fetchone()
        return None if row is None else str(row[0])

    def _claim_info(self, key: str, value: str) -> str:
        # inside BEGIN IMMEDIATE: of racing processes the first insert wins, the others
        # read its value back
        with self._db.write() as (conn, _generation):
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", ("info:" + key, value))
            row = conn.execute("SELECT value FROM meta WHERE key = ?", ("info:" + key,)).fetchone()
        return str(row[0])

    # --- reads ----------------------------------------------------------------------------------
    def _where(self, scope: Scope, filters: Filter | None, include_deleted: bool,
               include_expired: bool, translator: FilterTranslator) -> tuple[str, list[Any]]:
        where, scope_params = scope_sql(scope)
        vis_sql, vis_params = visibility_sql(include_deleted, include_expired)
        translated = translator.translate(filters)
        return (
            f"{where} AND {vis_sql} AND {translated.sql}",
            [*scope_params, *vis_params, *translated.params],
        )

    @contextmanager
    def _translator(self) -> Iterator[FilterTranslator]:
        translator = FilterTranslator(self._fallback)
        try:
            yield translator
        finally:
            self._fallback.release(translator.tokens)

    def _get(self, ids: list[str], scope: Scope, include_deleted: bool) -> list[MemoryRecord]:
        # unary + on the scope columns: look the ids up by their index; a scope index
        # would scan the whole scope (10 ids of a 10k scope took 2 ms instead of 0.05)
        where, scope_params = scope_sql(scope, alias="+r")
        deleted_sql = "" if include_deleted else " AND r.deleted_at IS NULL"
        found: dict[str, MemoryRecord] = {}
        with self._db.read() as conn:
            for chunk in chunks(ids):
                for row in conn.execute(
                    f"SELECT {COLUMNS} FROM records r WHERE r.id IN ({marks(len(chunk))}) "
                    f"AND {where}{deleted_sql}",
                    [*chunk, *scope_params],
                ):
                    record = record_from_row(row)
                    found[record.id] = record
        return [found[i] for i in ids if i in found]

    def _get_vectors(self, ids: list[str], scope: Scope) -> dict[str, list[float]]:
        """The vectors as applied (float32, not normalised); ids without one are skipped."""
        where, scope_params = scope_sql(scope)
        out: dict[str, list[float]] = {}
        with self._db.read() as conn:
            for chunk in chunks(ids):
                for rid, blob in conn.execute(
                    f"SELECT r.id, v.vector FROM records r JOIN vectors v ON v.seq = r.seq "
                    f"WHERE r.id IN ({marks(len(chunk))}) AND {where}",
                    [*chunk, *scope_params],
                ):
                    out[rid] = np.frombuffer(blob, dtype=np.float32).tolist()
        return out

    def _list_records(self, scope: Scope, filters: Filter | None, limit: int, cursor: str | None,
                      include_deleted: bool, include_expired: bool) -> Page:
        after = self._parse_cursor(cursor)
        with self._translator() as translator, self._db.read() as conn:
            where, params = self._where(scope, filters, include_deleted, include_expired, translator)
            rows = conn.execute(
                f"SELECT r.seq, {COLUMNS} FROM records r WHERE r.seq > ? AND {where} "
                f"ORDER BY r.seq LIMIT ?",
                [after, *params, limit + 1],
            ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(
            records=[record_from_row(row[1:]) for row in rows],
            next_cursor=str(rows[-1][0]) if more else None,
        )

    @staticmethod
    def _parse_cursor(cursor: str | None) -> int:
        if cursor is None or cursor == "":
            return 0
        if not cursor.isascii() or not cursor.isdigit():
            raise ValidationError(
                f"invalid cursor {cursor!r}: pass back the next_cursor of the previous page"
            )
        return int(cursor)

    def _count(self, scope: Scope, filters: Filter | None, include_deleted: bool,
               include_expired: bool) -> int:
        with self._translator() as translator, self._db.read() as conn:
            where, params = self._where(scope, filters, include_deleted, include_expired, translator)
            return int(conn.execute(f"SELECT count(*) FROM records r WHERE {where}", params).fetchone()[0])

    def _history(self, memory_id: str, scope: Scope) -> list[HistoryEntry]:
        where, scope_params = scope_sql(scope)
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT h.id, h.memory_id, h.event, h.old_text, h.new_text, h.at, h.actor, h.reason "
                "FROM history h WHERE h.memory_id = ? AND EXISTS (SELECT 1 FROM records r "
                f"WHERE r.id = h.memory_id AND {where}) ORDER BY h.seq",
                [memory_id, *scope_params],
            ).fetchall()
            # an ADD entry still kept in the record's row (schema v5): the row it
            # becomes when the record first changes, so it reads the same before and after
            rows.extend(pending_add_row(row[:5], memory_id, row[5]) for row in conn.execute(
                f"SELECT {PENDING_ADD}, r.text FROM records r "
                f"WHERE r.id = ? AND r.add_id IS NOT NULL AND {where}",
                [memory_id, *scope_params],
            ))
        return [
            HistoryEntry(id=hid, memory_id=mid, event=event, old_text=old, new_text=new,
                         at=at, actor=actor, reason=reason)
            for hid, mid, event, old, new, at, actor, reason in rows
        ]

    # --- search -------------------------------------------------------------------------------
    def _search(self, vector: Sequence[float], scope: Scope, limit: int, filters: Filter | None,
                include_deleted: bool, include_expired: bool) -> list[SearchHit]:
        with self._translator() as translator, self._db.read() as conn:
            chosen, scores, _rows = self._vector_pick(conn, translator, vector, scope, limit, filters,
                                                      include_deleted, include_expired)
            if not chosen:
                return []
            records = records_by_seq(conn, chosen, scope)
        return [
            SearchHit(record=records[seq], score=score)
            for seq, score in zip(chosen, scores, strict=True) if seq in records
        ]

    def _keyword_search(self, query: str, scope: Scope, limit: int, filters: Filter | None,
                        include_deleted: bool, include_expired: bool) -> list[SearchHit]:
        tokens = fts.query_tokens(query)
        if not tokens:
            return []
        with self._translator() as translator, self._db.read() as conn:
            scope_rows = self._scope_rows(conn, scope)
            where, params = self._where(scope, filters, include_deleted, include_expired, translator)
            return keyword_hits(conn, tokens, scope, scope_rows, float(self.config.common_term_share),
                                where, params, limit, self._probes)

    def _search_candidates(self, vector: Sequence[float], query: str, scope: Scope, limit: int,
                           filters: Filter | None, keyword: bool, include_deleted: bool,
                           include_expired: bool) -> Candidates:
        """Both signals in one read transaction (one snapshot: a writer committing
        meanwhile is seen by neither or by both), as light hits."""
        tokens = fts.query_tokens(query) if keyword else []
        with self._translator() as translator, self._db.read() as conn:
            chosen, scores, scope_rows = self._vector_pick(
                conn, translator, vector, scope, limit, filters, include_deleted, include_expired)
            found = light_rows(conn, chosen, scope) if chosen else {}
            vector_hits = [light_hit(found[seq], score)
                           for seq, score in zip(chosen, scores, strict=True) if seq in found]
            if not keyword:
                return Candidates(vector_hits)
            if not tokens:
                return Candidates(vector_hits, [])
            if scope_rows is None:
                scope_rows = self._scope_rows(conn, scope)
            where, params = self._where(scope, filters, include_deleted, include_expired, translator)
            return Candidates(vector_hits, keyword_light(
                conn, tokens, scope, scope_rows, float(self.config.common_term_share), where, params,
                limit, self._probes))

    def _vector_pick(self, conn: sqlite3.Connection, translator: FilterTranslator,
                     vector: Sequence[float], scope: Scope, limit: int, filters: Filter | None,
                     include_deleted: bool, include_expired: bool,
                     ) -> tuple[list[int], list[float], int | None]:
        """The best rows' seqs and scores in this transaction's snapshot, and how many
        rows the scope holds in it (soft-deleted ones too, as the keyword index counts;
        None when the cache does not know it)."""
        dimension = self._dimension or stored_dimension(conn)
        if dimension is None:
            return [], [], None  # nothing was ever stored with a vector
        query = query_vector(vector, dimension)
        key = tuple(scope.items())
        entry = self._scope_matrix(scope, dimension)
        # one lock over catching up and scoring: the scores match this snapshot
        with entry.lock:
            catch_up(entry, conn, scope)
            rows = len(entry.position) if self.config.cache_vectors else None
            ann = self._ann.usable(key, entry) if self.config.cache_vectors else None
            if ann is not None and filters is None:
                chosen, scores = best_ann(entry, ann, query, limit, include_deleted,
                                          include_expired)
            elif ann is not None:
                chosen, scores = best_filtered_ann(
                    conn, entry, ann, query, limit, scope,
                    visibility_sql(include_deleted, include_expired),
                    translator.translate(filters), include_deleted,
                )
            elif filters is None:
                chosen, scores = best(entry, query, limit, include_deleted, include_expired)
            else:
                chosen, scores = best_filtered(
                    conn, entry, query, limit, scope,
                    visibility_sql(include_deleted, include_expired),
                    translator.translate(filters), include_deleted,
                )
        if self.config.cache_vectors:
            self._cache.trim(key)
        return chosen, scores, rows

    def _scope_matrix(self, scope: Scope, dimension: int) -> ScopeMatrix:
        if self.config.cache_vectors:
            return self._cache.entry(tuple(scope.items()), dimension)
        return ScopeMatrix(dimension=dimension)

    def _scope_rows(self, conn: sqlite3.Connection, scope: Scope) -> int:
        """How many rows the scope holds (soft-deleted ones too, as the keyword index
        does). The vector cache already knows, once caught up; else ask SQL."""
        dimension = self._dimension or stored_dimension(conn)
        if self.config.cache_vectors and dimension is not None:
            entry = self._scope_matrix(scope, dimension)
            with entry.lock:
                catch_up(entry, conn, scope)
                rows = len(entry.position)
            self._cache.trim(tuple(scope.items()))
            return rows
        where, params = scope_sql(scope)
        return int(conn.execute(f"SELECT count(*) FROM records r WHERE {where}", params).fetchone()[0])
