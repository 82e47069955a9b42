"""The embedded vector store: one SQLite file with records, vectors, history and FTS5."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
from pydantic import Field

from memplane.errors import ConfigurationError, DimensionMismatch, ProviderError, ValidationError
from memplane.filters import Filter, parse_filter, require_supported
from memplane.models import Change, HistoryEntry, MemoryRecord, Page, Scope, SearchHit, utcnow
from memplane.providers.base import ProviderConfig, VectorStore
from memplane.stores.sqlite import fts
from memplane.stores.sqlite.codec import (
    RECORD_COLUMNS,
    dt_to_db,
    query_vector,
    record_from_row,
    record_params,
    vector_to_blob,
)
from memplane.stores.sqlite.connections import MEMORY, Connections, is_busy
from memplane.stores.sqlite.filter_sql import (
    FALLBACK_FUNCTION,
    FallbackNodes,
    FilterTranslator,
    SQLFilter,
)
from memplane.stores.sqlite.schema import (
    SCHEMA_VERSION,
    create_schema,
    missing_columns,
    stored_version,
)
from memplane.stores.sqlite.vector_cache import ScopeMatrix, VectorCache

_CHUNK = 500  # ids per IN (...) list, well under SQLite's parameter limit
# filtered search: the first round checks the filter on this many best rows per hit
# wanted (at least _FIRST_ROUND_MIN); rounds stop once they would reach 1/_SCAN_SHARE
# of the scope: a filter that selective is cheaper to run as one SQL scan of the scope
_FIRST_ROUND_PER_HIT = 4
_FIRST_ROUND_MIN = 64
_SCAN_SHARE = 32
_T = TypeVar("_T")
_COLUMNS = ", ".join(f"r.{c.strip()}" for c in RECORD_COLUMNS.split(","))

_UPSERT = """
INSERT INTO records (id, user_id, agent_id, run_id, text, fts_text, scope_terms, metadata, hash,
                     created_at, updated_at, observed_at, deleted_at, expires_at, source,
                     attributed_to, gen)
VALUES (:id, :user_id, :agent_id, :run_id, :text, :fts_text, :scope_terms, :metadata, :hash,
        :created_at, :updated_at, :observed_at, :deleted_at, :expires_at, :source,
        :attributed_to, :gen)
ON CONFLICT (id) DO UPDATE SET
    text = excluded.text, fts_text = excluded.fts_text, metadata = excluded.metadata,
    hash = excluded.hash, created_at = excluded.created_at, updated_at = excluded.updated_at,
    observed_at = excluded.observed_at, deleted_at = excluded.deleted_at,
    expires_at = excluded.expires_at, source = excluded.source,
    attributed_to = excluded.attributed_to, gen = excluded.gen
"""

_UPSERT_VECTOR = """
INSERT INTO vectors (seq, vector) SELECT seq, ? FROM records WHERE id = ?
ON CONFLICT (seq) DO UPDATE SET vector = excluded.vector
"""

_INSERT_HISTORY = """
INSERT INTO history (id, memory_id, event, old_text, new_text, at, actor, reason)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING
"""


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
        default=1024, ge=1, description="memory budget of the vector cache, in MiB"
    )
    common_term_share: float = Field(
        default=0.1, gt=0.0, le=1.0,
        description="keyword search leaves out query words found in more than this share "
        "of the scope's rows (and in more than 20 rows); 1 keeps every word",
    )


def _scope_sql(scope: Scope, alias: str = "r") -> tuple[str, list[Any]]:
    items = scope.items()
    if not items:
        return "1", []
    return " AND ".join(f"{alias}.{name} = ?" for name, _ in items), [v for _, v in items]


def _visibility_sql(include_deleted: bool, include_expired: bool,
                    alias: str = "r") -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    if not include_deleted:
        parts.append(f"{alias}.deleted_at IS NULL")
    if not include_expired:
        parts.append(f"({alias}.expires_at IS NULL OR {alias}.expires_at > ?)")
        params.append(dt_to_db(utcnow()))
    return (" AND ".join(parts) or "1"), params


def _chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _ranked(cosines: np.ndarray, seqs: np.ndarray, k: int) -> np.ndarray:
    """Positions of the best ``k`` scores (plus every row tied with the worst of them),
    best first, equal scores in insertion (``seq``) order."""
    if k < cosines.size:
        top = np.argpartition(-cosines, k - 1)[:k]
        top = np.flatnonzero(cosines >= cosines[top].min())
    else:
        top = np.arange(cosines.size)
    return top[np.lexsort((seqs[top], -cosines[top]))]


def _hits(seqs: np.ndarray, cosines: np.ndarray, chosen: np.ndarray) -> tuple[list[int], list[float]]:
    """Seqs and similarities in [0, 1] of the chosen positions, in their order."""
    scores = np.clip((1.0 + cosines[chosen].astype(np.float64)) / 2.0, 0.0, 1.0)
    return [int(s) for s in seqs[chosen]], [float(s) for s in scores]


class SQLiteStore(VectorStore):
    """Records, vectors, history and a keyword index in one SQLite file.

    WAL mode and a busy timeout let threads and processes share the file; every
    write is one ``BEGIN IMMEDIATE`` transaction that also writes the history and
    the keyword index. Vector search is exact cosine similarity with numpy over
    an in-process cache of the scope's vectors (see ``docs/sqlite-store.md``).
    """

    name: ClassVar[str] = "sqlite"
    Config: ClassVar[type[ProviderConfig]] = SQLiteStoreConfig
    capabilities: ClassVar[frozenset[str]] = frozenset(
        ["keyword_search", "persistent", "atomic_apply", "concurrent_writers", "vector_read"]
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
        self._connections = Connections(path, int(self.config.busy_timeout_ms), self._setup)
        self._cache = VectorCache(int(self.config.cache_max_mb) * 1024 * 1024)
        self._schema_ready = False
        self._dimension: int | None = None

    @property
    def path(self) -> str:
        return self._connections.path

    # --- connections and transactions -----------------------------------------------------
    def _setup(self, conn: sqlite3.Connection) -> None:
        conn.create_function(FALLBACK_FUNCTION, 7, self._fallback.evaluate)

    @contextmanager
    def _write(self) -> Iterator[tuple[sqlite3.Connection, int]]:
        """One write transaction; yields the connection and the new write generation."""
        with self._errors(), self._connections.use() as conn:
            self._ensure_schema(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                generation = conn.execute(
                    "UPDATE state SET generation = generation + 1 WHERE id = 1 RETURNING generation"
                ).fetchall()[0][0]
                yield conn, int(generation)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every statement inside sees the same snapshot."""
        with self._errors(), self._connections.use() as conn:
            self._ensure_schema(conn)
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except UnicodeEncodeError as exc:  # a lone surrogate in a text, id or filter value
            raise ValidationError(
                f"text sent to the sqlite store is not valid Unicode ({exc.reason} at "
                f"{exc.object[exc.start:exc.end]!r}); remove lone surrogate characters"
            ) from None
        except sqlite3.OperationalError as exc:
            raise ProviderError(
                f"sqlite store {self.path!r}: {exc}"
                + ("; another writer held the lock longer than busy_timeout_ms, retry or raise it"
                   if is_busy(exc) else ""),
                provider=self.name,
                retryable=is_busy(exc),
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise ProviderError(
                f"sqlite store {self.path!r} failed: {exc}", provider=self.name, retryable=False
            ) from exc

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        if self._schema_ready:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = stored_version(conn) or SCHEMA_VERSION
            missing = missing_columns(conn) if version <= SCHEMA_VERSION else []
            if version <= SCHEMA_VERSION and not missing:
                version = create_schema(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if version > SCHEMA_VERSION:
            raise ConfigurationError(
                f"the sqlite store {self.path!r} has schema version {version}, newer than this "
                f"memplane understands ({SCHEMA_VERSION}); upgrade memplane"
            )
        if missing:
            raise ConfigurationError(
                f"the sqlite store {self.path!r} lacks {', '.join(missing)}: it was written by an "
                f"incompatible build; move it away (or export and re-import) and start a new file"
            )
        self._schema_ready = True

    @staticmethod
    def _stored_dimension(conn: sqlite3.Connection) -> int | None:
        row = conn.execute("SELECT value FROM meta WHERE key = 'dimension'").fetchone()
        return None if row is None else int(row[0])

    # --- lifecycle --------------------------------------------------------------------------
    def open(self, dimension: int) -> None:
        if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 1:
            raise ConfigurationError(f"vector dimension must be a positive integer, got {dimension!r}")
        with self._write() as (conn, _generation):
            stored = self._stored_dimension(conn)
            if stored is not None and stored != dimension:
                has_vectors = conn.execute("SELECT 1 FROM vectors LIMIT 1").fetchone()
                if has_vectors:
                    raise DimensionMismatch(
                        store=f"sqlite:{self.path}", store_dimension=stored,
                        embedder_dimension=dimension,
                    )
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('dimension', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(dimension),),
            )
        self._dimension = dimension

    def close(self) -> None:
        self._connections.close()
        self._cache.clear()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- writes -------------------------------------------------------------------------------
    def apply(self, changes: Sequence[Change]) -> None:
        changes = list(changes)
        if not changes:
            return
        for change in changes:
            if change.history is not None and change.history.memory_id != change.record.id:
                raise ValidationError(
                    f"history entry {change.history.id!r} names memory {change.history.memory_id!r} "
                    f"but belongs to a change of {change.record.id!r}"
                )
            if change.record.scope.is_empty:
                raise ValidationError(
                    f"memory {change.record.id!r} has no scope: set user_id, agent_id or run_id"
                )
        rows = [
            record_params(c.record)
            | {"fts_text": fts.index_text(c.record.text), "scope_terms": fts.scope_terms(c.record.scope)}
            for c in changes
        ]
        history = [
            (h.id, h.memory_id, h.event.value, h.old_text, h.new_text, dt_to_db(h.at), h.actor, h.reason)
            for h in (c.history for c in changes) if h is not None
        ]
        with self._write() as (conn, generation):
            dimension = self._stored_dimension(conn)
            if dimension is None:
                first = next((c.vector for c in changes if c.vector is not None), None)
                if first is not None:
                    dimension = len(first)
                    conn.execute("INSERT INTO meta (key, value) VALUES ('dimension', ?)", (str(dimension),))
            vectors = [
                (vector_to_blob(c.vector, dimension, c.record.id), c.record.id)
                for c in changes if c.vector is not None and dimension is not None
            ]
            for row in rows:
                row["gen"] = generation
            self._refuse_scope_changes(conn, changes)
            conn.executemany(_UPSERT, rows)
            conn.executemany(_UPSERT_VECTOR, vectors)
            if history:
                conn.executemany(_INSERT_HISTORY, history)
        if dimension is not None:
            self._dimension = dimension

    @staticmethod
    def _refuse_scope_changes(conn: sqlite3.Connection, changes: Sequence[Change]) -> None:
        """An upsert may not move a memory to another scope (or overwrite another
        tenant's memory that happens to share the id)."""
        wanted = {c.record.id: c.record.scope for c in changes}
        ids = list(wanted)
        for chunk in _chunks(ids):
            for rid, user_id, agent_id, run_id in conn.execute(
                f"SELECT id, user_id, agent_id, run_id FROM records WHERE id IN ({_marks(len(chunk))})",
                list(chunk),
            ):
                if Scope(user_id=user_id, agent_id=agent_id, run_id=run_id) != wanted[rid]:
                    raise ValidationError(
                        f"memory {rid!r} already exists in another scope; a memory cannot change "
                        f"scope: delete it and add a new one"
                    )

    def delete(self, ids: Sequence[str], scope: Scope) -> int:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return 0
        scope_sql, scope_params = _scope_sql(scope)
        removed = 0
        with self._write() as (conn, generation):
            for chunk in _chunks(unique):
                found = conn.execute(
                    f"SELECT r.seq, r.id FROM records r WHERE r.id IN ({_marks(len(chunk))}) AND {scope_sql}",
                    [*chunk, *scope_params],
                ).fetchall()
                if not found:
                    continue
                ids = [rid for _seq, rid in found]
                conn.execute(f"DELETE FROM history WHERE memory_id IN ({_marks(len(ids))})", ids)
                conn.execute(f"DELETE FROM records WHERE id IN ({_marks(len(ids))})", ids)
                # tell vector caches (of every process) which rows are gone
                conn.executemany("INSERT OR REPLACE INTO tombstones (seq, gen) VALUES (?, ?)",
                                 [(seq, generation) for seq, _rid in found])
                removed += len(found)
        return removed

    def reset(self) -> None:
        with self._write() as (conn, _generation):
            conn.execute("DELETE FROM history")
            conn.execute("DELETE FROM records")
            conn.execute("DELETE FROM vectors")
            conn.execute("DELETE FROM tombstones")
            conn.execute("UPDATE state SET epoch = epoch + 1 WHERE id = 1")
        self._cache.clear()

    # --- reads ----------------------------------------------------------------------------------
    def _where(self, scope: Scope, filters: Filter | None, include_deleted: bool,
               include_expired: bool, translator: FilterTranslator) -> tuple[str, list[Any]]:
        scope_sql, scope_params = _scope_sql(scope)
        vis_sql, vis_params = _visibility_sql(include_deleted, include_expired)
        translated = translator.translate(filters)
        return (
            f"{scope_sql} AND {vis_sql} AND {translated.sql}",
            [*scope_params, *vis_params, *translated.params],
        )

    def _filters(self, filters: Filter | Mapping[str, Any] | None) -> Filter | None:
        node = parse_filter(filters)
        require_supported(node, self.filter_operators, self.name)
        return node

    @contextmanager
    def _translator(self) -> Iterator[FilterTranslator]:
        translator = FilterTranslator(self._fallback)
        try:
            yield translator
        finally:
            self._fallback.release(translator.tokens)

    def get(self, ids: Sequence[str], scope: Scope, *, include_deleted: bool = True) -> list[MemoryRecord]:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return []
        scope_sql, scope_params = _scope_sql(scope)
        deleted_sql = "" if include_deleted else " AND r.deleted_at IS NULL"
        found: dict[str, MemoryRecord] = {}
        with self._read() as conn:
            for chunk in _chunks(unique):
                for row in conn.execute(
                    f"SELECT {_COLUMNS} FROM records r WHERE r.id IN ({_marks(len(chunk))}) "
                    f"AND {scope_sql}{deleted_sql}",
                    [*chunk, *scope_params],
                ):
                    record = record_from_row(row)
                    found[record.id] = record
        return [found[i] for i in unique if i in found]

    def get_vectors(self, ids: Sequence[str], scope: Scope) -> dict[str, list[float]]:
        """The vectors as applied (float32, not normalised); ids without one are skipped."""
        unique = list(dict.fromkeys(ids))
        scope_sql, scope_params = _scope_sql(scope)
        out: dict[str, list[float]] = {}
        with self._read() as conn:
            for chunk in _chunks(unique):
                for rid, blob in conn.execute(
                    f"SELECT r.id, v.vector FROM records r JOIN vectors v ON v.seq = r.seq "
                    f"WHERE r.id IN ({_marks(len(chunk))}) AND {scope_sql}",
                    [*chunk, *scope_params],
                ):
                    out[rid] = np.frombuffer(blob, dtype=np.float32).tolist()
        return out

    def list_records(
        self,
        scope: Scope,
        *,
        filters: Filter | None = None,
        limit: int = 100,
        cursor: str | None = None,
        include_deleted: bool = False,
        include_expired: bool = False,
    ) -> Page:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValidationError(f"limit must be a positive integer, got {limit!r}")
        after = self._parse_cursor(cursor)
        node = self._filters(filters)
        with self._translator() as translator, self._read() as conn:
            where, params = self._where(scope, node, include_deleted, include_expired, translator)
            rows = conn.execute(
                f"SELECT r.seq, {_COLUMNS} FROM records r WHERE r.seq > ? AND {where} "
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
        if not isinstance(cursor, str) or not cursor.isascii() or not cursor.isdigit():
            raise ValidationError(
                f"invalid cursor {cursor!r}: pass back the next_cursor of the previous page"
            )
        return int(cursor)

    def count(
        self,
        scope: Scope,
        *,
        filters: Filter | None = None,
        include_deleted: bool = False,
        include_expired: bool = False,
    ) -> int:
        node = self._filters(filters)
        with self._translator() as translator, self._read() as conn:
            where, params = self._where(scope, node, include_deleted, include_expired, translator)
            return int(conn.execute(f"SELECT count(*) FROM records r WHERE {where}", params).fetchone()[0])

    def history(self, memory_id: str, scope: Scope) -> list[HistoryEntry]:
        scope_sql, scope_params = _scope_sql(scope)
        with self._read() as conn:
            rows = conn.execute(
                "SELECT h.id, h.memory_id, h.event, h.old_text, h.new_text, h.at, h.actor, h.reason "
                "FROM history h WHERE h.memory_id = ? AND EXISTS (SELECT 1 FROM records r "
                f"WHERE r.id = h.memory_id AND {scope_sql}) ORDER BY h.seq",
                [memory_id, *scope_params],
            ).fetchall()
        return [
            HistoryEntry(id=hid, memory_id=mid, event=event, old_text=old, new_text=new,
                         at=at, actor=actor, reason=reason)
            for hid, mid, event, old, new, at, actor, reason in rows
        ]

    # --- search -------------------------------------------------------------------------------
    def search(
        self,
        vector: Sequence[float],
        scope: Scope,
        *,
        limit: int = 10,
        filters: Filter | None = None,
        include_deleted: bool = False,
        include_expired: bool = False,
    ) -> list[SearchHit]:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValidationError(f"limit must be a positive integer, got {limit!r}")
        node = self._filters(filters)
        with self._translator() as translator, self._read() as conn:
            dimension = self._dimension or self._stored_dimension(conn)
            if dimension is None:
                return []  # nothing was ever stored with a vector
            query = query_vector(vector, dimension)
            entry = self._scope_matrix(scope, dimension)
            # one lock over catching up and scoring: the scores match this snapshot
            with entry.lock:
                self._catch_up(entry, conn, scope)
                if node is None:
                    chosen, scores = self._best(entry, query, limit, include_deleted, include_expired)
                else:
                    chosen, scores = self._best_filtered(
                        conn, entry, query, limit, scope,
                        _visibility_sql(include_deleted, include_expired),
                        translator.translate(node), include_deleted,
                    )
            if self.config.cache_vectors:
                self._cache.trim()
            if not chosen:
                return []
            records = self._records_by_seq(conn, chosen, scope)
        return [
            SearchHit(record=records[seq], score=score)
            for seq, score in zip(chosen, scores, strict=True) if seq in records
        ]

    def _scope_matrix(self, scope: Scope, dimension: int) -> ScopeMatrix:
        if self.config.cache_vectors:
            return self._cache.entry(tuple(scope.items()), dimension)
        return ScopeMatrix(dimension=dimension)

    @staticmethod
    def _catch_up(entry: ScopeMatrix, conn: sqlite3.Connection, scope: Scope) -> None:
        """Bring the scope's vectors to this transaction's snapshot (hold ``entry.lock``)."""
        generation, epoch = conn.execute("SELECT generation, epoch FROM state WHERE id = 1").fetchone()
        if entry.generation == generation and entry.epoch == epoch:
            return
        scope_sql, params = _scope_sql(scope)
        select = (
            "SELECT r.seq, r.id, v.vector, r.deleted_at, r.expires_at "
            "FROM records r JOIN vectors v ON v.seq = r.seq WHERE "
        )
        if entry.epoch != epoch or entry.generation < 0 or entry.generation > generation:
            entry.clear()
            rows = conn.execute(f"{select} {scope_sql} ORDER BY r.seq", params).fetchall()
        else:  # only what was written since: this process's writes and everyone else's
            delta_scope, _ = _scope_sql(scope, alias="+r")  # use the gen index, not a scope one
            rows = conn.execute(
                f"{select} r.gen > ? AND {delta_scope}", [entry.generation, *params]
            ).fetchall()
            entry.remove(row[0] for row in conn.execute(
                "SELECT seq FROM tombstones WHERE gen > ?", [entry.generation]))
        entry.upsert(rows)
        entry.generation, entry.epoch = generation, epoch

    def _best_filtered(self, conn: sqlite3.Connection, entry: ScopeMatrix, query: np.ndarray,
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
        by_rowid, by_rowid_params = _scope_sql(scope, alias="+r")  # no scope index scan
        checked: set[int] = set()
        passing: set[int] = set()
        while k * _SCAN_SHARE < total:
            ranked = _ranked(cosines, seqs, k)
            fresh = [seq for seq in seqs[ranked].tolist() if seq not in checked]
            for chunk in _chunks(fresh):  # earlier rounds' rows are not checked again
                passing.update(row[0] for row in conn.execute(
                    f"SELECT r.seq FROM records r WHERE r.seq IN ({_marks(len(chunk))}) "
                    f"AND {by_rowid} AND {vis_sql} AND {translated.sql}",
                    [*chunk, *by_rowid_params, *vis_params, *translated.params],
                ))
            checked.update(fresh)
            kept = [i for i in ranked.tolist() if int(seqs[i]) in passing][:limit]
            if len(kept) == limit or ranked.size == total:  # enough, or every row checked
                return _hits(seqs, cosines, np.asarray(kept, dtype=np.int64))
            k *= 4
        scope_sql, scope_params = _scope_sql(scope)
        allowed = np.fromiter(
            (row[0] for row in conn.execute(
                f"SELECT r.seq FROM records r WHERE {scope_sql} AND {vis_sql} AND {translated.sql}",
                [*scope_params, *vis_params, *translated.params],
            )),
            dtype=np.int64,
        )
        keep = np.isin(seqs, allowed)
        if not keep.any():
            return [], []
        seqs, cosines = seqs[keep], cosines[keep]
        return _hits(seqs, cosines, _ranked(cosines, seqs, limit)[:limit])

    @staticmethod
    def _best(entry: ScopeMatrix, query: np.ndarray, limit: int,
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
        return _hits(seqs, cosines, _ranked(cosines, seqs, limit)[:limit])

    @staticmethod
    def _records_by_seq(conn: sqlite3.Connection, seqs: list[int], scope: Scope) -> dict[int, MemoryRecord]:
        # unary + keeps SQLite from scanning a scope index instead of looking up rowids
        scope_sql, scope_params = _scope_sql(scope, alias="+r")
        rows = conn.execute(
            f"SELECT r.seq, {_COLUMNS} FROM records r WHERE r.seq IN ({_marks(len(seqs))}) AND {scope_sql}",
            [*seqs, *scope_params],
        )
        return {row[0]: record_from_row(row[1:]) for row in rows}

    def keyword_search(
        self,
        query: str,
        scope: Scope,
        *,
        limit: int = 10,
        filters: Filter | None = None,
        include_deleted: bool = False,
        include_expired: bool = False,
    ) -> list[SearchHit]:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValidationError(f"limit must be a positive integer, got {limit!r}")
        if not isinstance(query, str):
            raise ValidationError(f"keyword query must be a string, got {type(query).__name__}")
        node = self._filters(filters)
        tokens = fts.query_tokens(query)
        if not tokens:
            return []
        with self._translator() as translator, self._read() as conn:
            scope_rows = self._scope_rows(conn, scope)
            postings = self._distinctive(conn, tokens, scope, scope_rows)
            expression = fts.match_expression(list(postings), scope)
            if expression is None:
                return []  # only words most of the scope holds: no keyword evidence
            where, params = self._where(scope, node, include_deleted, include_expired, translator)
            rows = conn.execute(
                # bm25 picks the candidates; the scope column weighs nothing in it
                f"SELECT r.seq, {_COLUMNS} FROM records_fts "
                f"JOIN records r ON r.seq = records_fts.rowid "
                f"WHERE records_fts MATCH ? AND {where} "
                f"ORDER BY bm25(records_fts, 1.0, 0.0), r.seq LIMIT ?",
                [expression, *params, limit],
            ).fetchall()
        weights = {token: fts.idf(scope_rows, len(seqs)) for token, seqs in postings.items()}
        scored = [
            (sum(w for token, w in weights.items() if row[0] in postings[token]), row)
            for row in rows
        ]
        scored.sort(key=lambda pair: -pair[0])  # stable: bm25 order breaks ties
        return [
            SearchHit(record=record_from_row(row[1:]), score=fts.relevance_to_score(weight))
            for weight, row in scored
        ]

    def _distinctive(self, conn: sqlite3.Connection, tokens: list[str], scope: Scope,
                     scope_rows: int) -> dict[str, set[int]]:
        """The query tokens that are not common in the scope (see ``fts`` on why), each
        with the rows of the scope that hold it."""
        share = float(self.config.common_term_share)
        most = fts.common_term_limit(scope_rows, share) if share < 1.0 else None
        kept: dict[str, set[int]] = {}
        for token in tokens:
            expression = fts.term_expression(token, scope)
            if most is not None:
                (rows,) = conn.execute(
                    "SELECT count(*) FROM (SELECT 1 FROM records_fts WHERE records_fts MATCH ? LIMIT ?)",
                    [expression, most + 1],
                ).fetchone()
                if rows > most:
                    continue
            seqs = {seq for (seq,) in conn.execute(
                "SELECT rowid FROM records_fts WHERE records_fts MATCH ?", [expression])}
            if seqs:
                kept[token] = seqs
        return kept

    def _scope_rows(self, conn: sqlite3.Connection, scope: Scope) -> int:
        """How many rows the scope holds (soft-deleted ones too, as the keyword index
        does). The vector cache already knows, once caught up; else ask SQL."""
        dimension = self._dimension or self._stored_dimension(conn)
        if self.config.cache_vectors and dimension is not None:
            entry = self._scope_matrix(scope, dimension)
            with entry.lock:
                self._catch_up(entry, conn, scope)
                return len(entry.position)
        scope_sql, params = _scope_sql(scope)
        return int(conn.execute(f"SELECT count(*) FROM records r WHERE {scope_sql}", params).fetchone()[0])
