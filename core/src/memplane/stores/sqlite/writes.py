"""Writes of the SQLite store, each inside the caller's ``BEGIN IMMEDIATE``
transaction: the contract-v2 checks run on the state the writes apply to."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from memplane.models import Change, MemoryRecord, Scope
from memplane.providers.store_checks import check_versions
from memplane.stores.sqlite import fts
from memplane.stores.sqlite.codec import dt_to_db, record_from_row, record_params, vector_to_blob
from memplane.stores.sqlite.sql import COLUMNS, chunks, exact_scope_sql, marks, scope_sql
from memplane.stores.sqlite.transactions import stored_dimension

_UPSERT = """
INSERT INTO records (id, user_id, agent_id, run_id, text, fts_text, scope_terms, metadata, hash,
                     created_at, updated_at, observed_at, deleted_at, expires_at, source,
                     attributed_to, gen, version)
VALUES (:id, :user_id, :agent_id, :run_id, :text, :fts_text, :scope_terms, :metadata, :hash,
        :created_at, :updated_at, :observed_at, :deleted_at, :expires_at, :source,
        :attributed_to, :gen, :version)
ON CONFLICT (id) DO UPDATE SET
    text = excluded.text, fts_text = excluded.fts_text, metadata = excluded.metadata,
    hash = excluded.hash, created_at = excluded.created_at, updated_at = excluded.updated_at,
    observed_at = excluded.observed_at, deleted_at = excluded.deleted_at,
    expires_at = excluded.expires_at, source = excluded.source,
    attributed_to = excluded.attributed_to, gen = excluded.gen, version = excluded.version
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


def apply_changes(conn: sqlite3.Connection, generation: int, changes: Sequence[Change]) -> int | None:
    """Check then write a batch; returns the store's vector dimension (None while
    nothing was stored with a vector)."""
    rows = [
        record_params(c.record)
        | {"fts_text": fts.index_text(c.record.text), "scope_terms": fts.scope_terms(c.record.scope),
           "gen": generation}
        for c in changes
    ]
    history = [
        (h.id, h.memory_id, h.event.value, h.old_text, h.new_text, dt_to_db(h.at), h.actor, h.reason)
        for h in (c.history for c in changes) if h is not None
    ]
    check_versions(changes, _stored(conn, [c.record.id for c in changes]),
                   lambda scope, hash_: _live_hash_owner(conn, scope, hash_))
    dimension = stored_dimension(conn)
    if dimension is None:
        first = next((c.vector for c in changes if c.vector is not None), None)
        if first is not None:
            dimension = len(first)
            conn.execute("INSERT INTO meta (key, value) VALUES ('dimension', ?)", (str(dimension),))
    vectors = [
        (vector_to_blob(c.vector, dimension, c.record.id), c.record.id)
        for c in changes if c.vector is not None and dimension is not None
    ]
    conn.executemany(_UPSERT, rows)
    conn.executemany(_UPSERT_VECTOR, vectors)
    if history:
        conn.executemany(_INSERT_HISTORY, history)
    return dimension


def _stored(conn: sqlite3.Connection, ids: list[str]) -> dict[str, MemoryRecord]:
    """The stored records of these ids, in any scope."""
    found: dict[str, MemoryRecord] = {}
    for chunk in chunks(ids):
        for row in conn.execute(
            f"SELECT {COLUMNS} FROM records r WHERE r.id IN ({marks(len(chunk))})", list(chunk)
        ):
            record = record_from_row(row)
            found[record.id] = record
    return found


def _live_hash_owner(conn: sqlite3.Connection, scope: Scope, hash_: str) -> str | None:
    where, params = exact_scope_sql(scope)
    row = conn.execute(
        f"SELECT r.id FROM records r WHERE r.hash = ? AND r.deleted_at IS NULL AND r.hash <> '' "
        f"AND {where} LIMIT 1", [hash_, *params],
    ).fetchone()
    return None if row is None else str(row[0])


def delete_records(conn: sqlite3.Connection, generation: int, ids: Sequence[str], scope: Scope) -> int:
    """Hard-delete the scope's records of these ids with their history."""
    where, scope_params = scope_sql(scope)
    removed = 0
    for chunk in chunks(ids):
        found = conn.execute(
            f"SELECT r.seq, r.id FROM records r WHERE r.id IN ({marks(len(chunk))}) AND {where}",
            [*chunk, *scope_params],
        ).fetchall()
        if not found:
            continue
        gone = [rid for _seq, rid in found]
        conn.execute(f"DELETE FROM history WHERE memory_id IN ({marks(len(gone))})", gone)
        conn.execute(f"DELETE FROM records WHERE id IN ({marks(len(gone))})", gone)
        # tell vector caches (of every process) which rows are gone
        conn.executemany("INSERT OR REPLACE INTO tombstones (seq, gen) VALUES (?, ?)",
                         [(seq, generation) for seq, _rid in found])
        removed += len(found)
    return removed


def reset_all(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM history")
    conn.execute("DELETE FROM records")
    conn.execute("DELETE FROM vectors")
    conn.execute("DELETE FROM tombstones")
    conn.execute("UPDATE state SET epoch = epoch + 1 WHERE id = 1")
