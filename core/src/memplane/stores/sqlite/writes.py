"""Writes of the SQLite store, each inside the caller's ``BEGIN IMMEDIATE``
transaction: the contract-v2 checks run on the state the writes apply to."""

from __future__ import annotations

import functools
import itertools
import sqlite3
import struct
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from operator import itemgetter

import numpy as np

from memplane.errors import ValidationError
from memplane.models import Change, HistoryEvent, MemoryRecord, Scope
from memplane.providers.store_checks import check_versions
from memplane.stores.sqlite import fts
from memplane.stores.sqlite.codec import (
    PENDING_ADD,
    dt_to_db,
    hash_key,
    pending_add_row,
    record_from_row,
    record_values,
    vector_to_blob,
)
from memplane.stores.sqlite.sql import COLUMNS, chunks, marks, scope_sql
from memplane.stores.sqlite.transactions import stored_dimension

_COLUMNS = """id, user_id, agent_id, run_id, text, fts_text, scope_terms, metadata, hash,
created_at, updated_at, observed_at, deleted_at, expires_at, source, attributed_to, gen, version,
hash_key, add_id, add_at, add_actor, add_reason"""

_COLUMN_NAMES = tuple(name.strip() for name in _COLUMNS.split(","))

#: positions of a records row (``_COLUMNS`` order) that are often NULL: user, agent
#: and run ids, observed/deleted/expires times, attributed_to, the hash key and the
#: pending ADD entry. Binding a NULL costs as much as binding a value (a third of
#: a bulk insert's statement time went to them), so new rows are inserted binding
#: only their other columns; an omitted column has no default, so it is NULL all the same.
_OPTIONAL = (1, 2, 3, 11, 12, 13, 15, 18, 19, 20, 21, 22)

# rows the batch changes; their pending ADD entry (add_*) was written out first
_UPSERT = f"""
INSERT INTO records ({_COLUMNS}) VALUES ({marks(23)})
ON CONFLICT (id) DO UPDATE SET
    text = excluded.text, fts_text = excluded.fts_text, metadata = excluded.metadata,
    hash = excluded.hash, created_at = excluded.created_at, updated_at = excluded.updated_at,
    observed_at = excluded.observed_at, deleted_at = excluded.deleted_at,
    expires_at = excluded.expires_at, source = excluded.source,
    attributed_to = excluded.attributed_to, gen = excluded.gen, version = excluded.version,
    hash_key = excluded.hash_key, add_id = NULL, add_at = NULL, add_actor = NULL,
    add_reason = NULL
"""

# new rows' keyword-index entries, one statement a batch (schema v3 has no insert
# trigger); changed rows are re-indexed by the update trigger
_INDEX_NEW = """
INSERT INTO records_fts (rowid, fts_text, scope_terms)
SELECT seq, fts_text, scope_terms FROM records WHERE seq > ?
"""

_INSERT_VECTOR = "INSERT INTO vectors (seq, vector) VALUES (?, ?)"

_UPSERT_VECTOR = """
INSERT INTO vectors (seq, vector) VALUES (?, ?)
ON CONFLICT (seq) DO UPDATE SET vector = excluded.vector
"""

_INSERT_HISTORY = """
INSERT INTO history (id, memory_id, event, old_text, new_text, at, actor, reason)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING
"""

_NOT_PENDING = (None, None, None, None)


def apply_changes(conn: sqlite3.Connection, generation: int, changes: Sequence[Change]) -> int | None:
    """Check then write a batch; returns the store's vector dimension (None while
    nothing was stored with a vector)."""
    ids = [c.record.id for c in changes]
    if len(set(ids)) != len(ids):  # the per-batch keyword indexing relies on it
        raise ValidationError("a memory id appears twice in one apply; send one change per id")
    keys = {c.record.hash: hash_key(c.record.hash) for c in changes}
    owners = _live_hash_owners(conn, changes, keys)
    stored, seqs, pending = _stored(conn, ids)
    check_versions(changes, stored,
                   lambda scope, hash_: owners.get((scope.user_id, scope.agent_id,
                                                    scope.run_id, hash_)))
    dimension = stored_dimension(conn)
    if dimension is None:
        first = next((c.vector for c in changes if c.vector is not None), None)
        if first is not None:
            dimension = len(first)
            conn.execute("INSERT INTO meta (key, value) VALUES ('dimension', ?)", (str(dimension),))
    vectors = _vector_rows(changes, dimension)
    lazy = _lazy_adds(conn, changes, pending)
    terms: dict[tuple[str | None, str | None, str | None], str] = {}  # a batch has few scopes
    new_rows: list[tuple[object, ...]] = []
    changed_rows: list[tuple[object, ...]] = []
    for c in changes:
        record = c.record
        scope = record.scope
        where = (scope.user_id, scope.agent_id, scope.run_id)
        scope_terms = terms.get(where)
        if scope_terms is None:
            scope_terms = terms[where] = fts.scope_terms(scope)
        row = (*record_values(record, fts.index_text(record.text), scope_terms, generation),
               keys[record.hash], *lazy.get(record.id, _NOT_PENDING))
        (changed_rows if record.id in seqs else new_rows).append(row)
    history = _history_rows(changes, lazy)
    # AUTOINCREMENT: every row this batch inserts gets a seq above the current maximum
    newest = conn.execute("SELECT coalesce(max(seq), 0) FROM records").fetchone()[0]
    if pending:  # the ADD entries of records changed for the first time, before their own
        conn.executemany(_INSERT_HISTORY, pending)
    if changed_rows:
        conn.executemany(_UPSERT, changed_rows)
    if new_rows:  # check_versions has made sure no such id is stored
        _insert_new(conn, new_rows)
        conn.execute(_INDEX_NEW, (newest,))
        seqs.update(conn.execute("SELECT id, seq FROM records WHERE seq > ?", (newest,)))
    if vectors:
        fresh = [(seqs[rid], blob) for blob, rid in vectors if seqs[rid] > newest]
        if fresh:
            conn.executemany(_INSERT_VECTOR, fresh)
        if len(fresh) < len(vectors):
            conn.executemany(_UPSERT_VECTOR, [(seqs[rid], blob) for blob, rid in vectors
                                              if seqs[rid] <= newest])
    if history:
        conn.executemany(_INSERT_HISTORY, history)
    return dimension


def _insert_new(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    """Insert new records in batch order (their ``seq`` follows it), each run of rows
    with the same NULL columns by one statement naming only the others."""
    for shape, run in itertools.groupby(rows, key=_shape):
        sql, pick = _insert_for(shape)
        conn.executemany(sql, map(pick, run))


def _shape(row: tuple[object, ...]) -> tuple[bool, ...]:
    # spelled out (not a loop over _OPTIONAL): this runs once a row
    return (row[1] is None, row[2] is None, row[3] is None, row[11] is None, row[12] is None,
            row[13] is None, row[15] is None, row[18] is None, row[19] is None,
            row[20] is None, row[21] is None, row[22] is None)


@functools.lru_cache(maxsize=512)
def _insert_for(shape: tuple[bool, ...]) -> tuple[str, Callable[[tuple[object, ...]], tuple[object, ...]]]:
    null = {position for position, is_null in zip(_OPTIONAL, shape, strict=True) if is_null}
    kept = [i for i in range(len(_COLUMN_NAMES)) if i not in null]
    names = ", ".join(_COLUMN_NAMES[i] for i in kept)
    return f"INSERT INTO records ({names}) VALUES ({marks(len(kept))})", itemgetter(*kept)


def _lazy_adds(conn: sqlite3.Connection, changes: Sequence[Change],
               pending: Sequence[tuple[object, ...]]
               ) -> dict[str, tuple[str, str | None, str | None, str | None]]:
    """The creates whose ADD entry is kept in the record's row (``add_*``, schema v5)
    instead of a history row: a plain ADD of the record's own text. ``add_at`` is
    NULL when the entry's time is the record's ``created_at``. An entry whose id is
    taken (by a history row, a pending entry this batch writes out, or another entry
    of the batch) is left to the history insert, which keeps the first in write
    order and ignores the others, as it always did."""
    lazy: dict[str, tuple[str, str | None, str | None, str | None]] = {}
    add = HistoryEvent.ADD
    for c in changes:
        h = c.history
        if h is None or c.expected_version is not None or h.event is not add:
            continue
        record = c.record
        if h.old_text is not None or h.new_text != record.text or h.memory_id != record.id:
            continue
        at = h.at
        lazy[record.id] = (h.id, None if at == record.created_at else dt_to_db(at), h.actor,
                           h.reason)
    if lazy:
        entry_ids = [entry[0] for entry in lazy.values()]
        taken = {str(row[0]) for row in pending}
        batch_ids = [c.history.id for c in changes if c.history is not None]
        if len(set(batch_ids)) < len(batch_ids):
            taken.update(hid for hid, n in Counter(batch_ids).items() if n > 1)
        for chunk in chunks(entry_ids):
            taken.update(hid for (hid,) in conn.execute(
                f"SELECT id FROM history WHERE id IN ({marks(len(chunk))})", list(chunk)))
        if taken:
            lazy = {rid: entry for rid, entry in lazy.items() if entry[0] not in taken}
    return lazy


def _history_rows(changes: Sequence[Change], lazy: Mapping[str, object]) -> list[tuple[object, ...]]:
    """History rows of the entries not kept lazily; the entries of one batch mostly
    share their time, formatted once."""
    times: dict[datetime, str | None] = {}
    rows: list[tuple[object, ...]] = []
    for c in changes:
        h = c.history
        if h is None or c.record.id in lazy:
            continue
        at = times.get(h.at)
        if at is None:
            at = times[h.at] = dt_to_db(h.at)
        rows.append((h.id, h.memory_id, h.event.value, h.old_text, h.new_text, at, h.actor, h.reason))
    return rows


def _stored(conn: sqlite3.Connection, ids: list[str]
            ) -> tuple[dict[str, MemoryRecord], dict[str, int], list[tuple[object, ...]]]:
    """The stored records of these ids, in any scope, their ``seq``, and the history
    rows of the ADD entries they still keep in their row (schema v5's lazy ADD)."""
    found: dict[str, MemoryRecord] = {}
    seqs: dict[str, int] = {}
    pending: list[tuple[object, ...]] = []
    for chunk in chunks(ids):
        for row in conn.execute(
            f"SELECT r.seq, {PENDING_ADD}, {COLUMNS} FROM records r "
            f"WHERE r.id IN ({marks(len(chunk))})", list(chunk)
        ):
            record = record_from_row(row[6:])
            found[record.id] = record
            seqs[record.id] = int(row[0])
            if row[1] is not None:
                pending.append(pending_add_row(row[1:6], record.id, record.text))
    return found, seqs, pending


def _vector_rows(changes: Sequence[Change], dimension: int | None) -> list[tuple[bytes, str]]:
    """(blob, id) of every change with a vector, as native float32 (what numpy's
    ``tobytes`` gives). The bulk case packs each list with one ``struct`` call (about
    a third of numpy's conversion time from Python floats) and checks finiteness once
    for the batch; anything unusual falls back to the per-row check, which names the
    offending memory."""
    pairs = [(c.vector, c.record.id) for c in changes if c.vector is not None]
    if not pairs or dimension is None:
        return []
    pack = _packer(dimension)
    try:  # a list of another length is a struct.error too
        blobs = [pack(*vector) for vector, _rid in pairs]
    except (struct.error, OverflowError, TypeError):  # not floats, or beyond float32
        blobs = []
    if blobs and bool(np.isfinite(np.frombuffer(b"".join(blobs), dtype=np.float32)).all()):
        return [(blob, rid) for blob, (_vector, rid) in zip(blobs, pairs, strict=True)]
    # some vector is wrong: let the per-row check name it
    return [(vector_to_blob(vector, dimension, rid), rid) for vector, rid in pairs]


@functools.lru_cache(maxsize=8)
def _packer(dimension: int) -> Callable[..., bytes]:
    return struct.Struct(f"={dimension}f").pack


HashOwners = dict[tuple[str | None, str | None, str | None, str], str]


def _live_hash_owners(conn: sqlite3.Connection, changes: Sequence[Change],
                      keys: Mapping[str, int | None]) -> HashOwners:
    """A live record of each (exact scope, hash) the batch creates, read by hash key
    in one query per chunk instead of one per change."""
    hashes = {c.record.hash for c in changes
              if c.expected_version is None and c.record.deleted_at is None and c.record.hash}
    wanted = [key for key in {keys[h] for h in hashes} if key is not None]
    owners: HashOwners = {}
    for chunk in chunks(wanted):
        for rid, user_id, agent_id, run_id, hash_ in conn.execute(
            f"SELECT r.id, r.user_id, r.agent_id, r.run_id, r.hash FROM records r "
            f"WHERE r.hash_key IN ({marks(len(chunk))}) "
            f"AND r.deleted_at IS NULL AND r.hash_key IS NOT NULL ORDER BY r.seq",
            list(chunk),
        ):
            # keyed by the full hash: a row of another hash with the same key is never asked for
            owners.setdefault((user_id, agent_id, run_id, hash_), str(rid))
    return owners


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
