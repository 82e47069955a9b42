"""The SQLite schema of the embedded store, and its creation.

Vectors live in their own table keyed by ``records.seq``: scans of ``records`` for
filters, listing and counting then read small rows, not 1.5 KB vector blobs.

``records.seq`` is an AUTOINCREMENT rowid: it never repeats, so cursor pagination
by ``seq`` returns every record exactly once even when rows are deleted and new
ones inserted meanwhile. ``records.gen`` is the write generation that last touched
the row; the vector cache refreshes itself with the rows whose ``gen`` is newer
than what it holds, and drops the rows listed in ``tombstones`` (hard deletes) with
a newer ``gen``. ``state.epoch`` changes on reset, which makes caches rebuild.

``records.version`` is the contract-v2 compare-and-set version. Writes run in one
``BEGIN IMMEDIATE`` transaction, so the version and hash checks made inside it
cannot interleave with another writer (thread or process).

Schema versions are explicit: ``schema_version`` has one row per applied step, and
:data:`MIGRATIONS` upgrades an older file step by step inside one write transaction
(``meta.schema_version`` mirrors the newest, which is what older builds read to
refuse a file newer than they understand).

Version 3 made bulk writes cheaper without changing what any read returns: the
agent and run scope indexes are partial (rows without an agent or run id, the
usual user-scoped memory, add no entry to them; a query naming the id still uses
them, since ``agent_id = ?`` implies ``agent_id IS NOT NULL``), and a new record's
keyword-index entry is written by the store once per batch
(:func:`memplane.stores.sqlite.writes.apply_changes`) instead of by a trigger per
row. Updates and deletes keep their triggers.

Version 5 made a created record cheaper to write, again without changing any read:

- The duplicate check looks up ``records.hash_key``, an 8-byte integer taken from
  the hash (:func:`memplane.stores.sqlite.codec.hash_key`), through a partial index
  of live rows, instead of a text index over the 64-character hash and the scope;
  the rows found are compared on the full hash and scope, so a key collision
  costs a row read, never a wrong answer.
- Lazy ADD history: a create whose history entry is the plain ADD of the record's
  own text keeps that entry's id, time (NULL when it equals ``created_at``),
  actor and reason in ``records.add_*`` instead of a ``history`` row (whose two
  random-key indexes were a third of a bulk insert's pages). While ``add_id`` is
  set the record has no history rows and ``history()`` builds the ADD entry from
  those columns and the record's text; the first change of the record writes
  that row from them (in the same transaction, before its own entry) and clears
  them. Files from version 4 and before keep their rows as they are.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable

from memplane.stores.sqlite.codec import hash_key

SCHEMA_VERSION = 5

log = logging.getLogger(__name__)

#: live records by hash key: the create check of contract v2 looks up here and
#: compares the full hash and scope of what it finds. Not UNIQUE: an update or
#: restore may legitimately make two live texts equal (only creates are refused),
#: and the write transaction already serialises writers.
LIVE_HASH_INDEX = (
    "CREATE INDEX IF NOT EXISTS records_live_hash_key ON records (hash_key) "
    "WHERE deleted_at IS NULL AND hash_key IS NOT NULL"
)

_DDL = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE IF NOT EXISTS state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL,
    epoch      INTEGER NOT NULL
);
INSERT OR IGNORE INTO state (id, generation, epoch) VALUES (1, 0, 0);
CREATE TABLE IF NOT EXISTS records (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    user_id       TEXT,
    agent_id      TEXT,
    run_id        TEXT,
    text          TEXT NOT NULL,
    fts_text      TEXT NOT NULL,
    scope_terms   TEXT NOT NULL,
    metadata      TEXT NOT NULL DEFAULT '{}',
    hash          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    observed_at   TEXT,
    deleted_at    TEXT,
    expires_at    TEXT,
    source        TEXT NOT NULL DEFAULT '[]',
    attributed_to TEXT,
    gen           INTEGER NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1,
    hash_key      INTEGER,
    add_id        TEXT,
    add_at        TEXT,
    add_actor     TEXT,
    add_reason    TEXT
);
CREATE TABLE IF NOT EXISTS vectors (
    seq    INTEGER PRIMARY KEY REFERENCES records (seq),
    vector BLOB NOT NULL
);
-- (user_id) and not (user_id, agent_id, run_id): an index entry ends with the rowid
-- (seq), so a user's rows come out in seq order and a page of a user scope's
-- listing reads only that page instead of sorting the whole scope each time.
CREATE INDEX IF NOT EXISTS records_by_user ON records (user_id);
CREATE INDEX IF NOT EXISTS records_by_agent ON records (agent_id, run_id) WHERE agent_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_by_run ON records (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_by_gen ON records (gen);

CREATE TABLE IF NOT EXISTS tombstones (
    seq INTEGER PRIMARY KEY,
    gen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tombstones_by_gen ON tombstones (gen);
CREATE TABLE IF NOT EXISTS history (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    id        TEXT NOT NULL UNIQUE,
    memory_id TEXT NOT NULL,
    event     TEXT NOT NULL,
    old_text  TEXT,
    new_text  TEXT,
    at        TEXT NOT NULL,
    actor     TEXT,
    reason    TEXT
);
CREATE INDEX IF NOT EXISTS history_by_memory ON history (memory_id, seq);
CREATE VIRTUAL TABLE IF NOT EXISTS records_fts USING fts5 (
    fts_text,
    scope_terms,
    content = 'records',
    content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS records_fts_delete AFTER DELETE ON records BEGIN
    INSERT INTO records_fts (records_fts, rowid, fts_text, scope_terms)
    VALUES ('delete', old.seq, old.fts_text, old.scope_terms);
    DELETE FROM vectors WHERE seq = old.seq;
END;
CREATE TRIGGER IF NOT EXISTS records_fts_update AFTER UPDATE OF fts_text, scope_terms ON records
WHEN old.fts_text IS NOT new.fts_text OR old.scope_terms IS NOT new.scope_terms BEGIN
    INSERT INTO records_fts (records_fts, rowid, fts_text, scope_terms)
    VALUES ('delete', old.seq, old.fts_text, old.scope_terms);
    INSERT INTO records_fts (rowid, fts_text, scope_terms)
    VALUES (new.seq, new.fts_text, new.scope_terms);
END;
"""


def create_schema(conn: sqlite3.Connection) -> int:
    """Create a new file's tables, or bring an older file up to date, inside the
    caller's write transaction; return the schema version the file now declares
    (newer than ours means: leave it alone, the caller refuses it)."""
    found = stored_version(conn)
    if found is not None and found > SCHEMA_VERSION:
        return found
    started = time.perf_counter()
    upgrading = found is not None and found < SCHEMA_VERSION
    if found is not None and upgrading:
        records = conn.execute("SELECT count(*) FROM records").fetchone()[0]
        # a large file takes minutes (every row is rewritten for version 5): say why
        # the open is slow, and that it happens once
        log.warning("upgrading the sqlite store from schema version %d to %d (%d records); "
                    "this runs once, and other processes wait for it", found, SCHEMA_VERSION,
                    records)
        for step in range(found + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[step](conn)
            _record_version(conn, step)
    if missing_columns(conn):
        return SCHEMA_VERSION  # an incompatible file: the caller rolls back and refuses it
    for statement in _split(_DDL):
        conn.execute(statement)
    conn.execute(LIVE_HASH_INDEX)  # on an upgraded file: an index build over every row
    if found is None:
        _record_version(conn, SCHEMA_VERSION)
    if upgrading:
        log.warning("sqlite store upgraded to schema version %d in %.1f s (committing now)",
                    SCHEMA_VERSION, time.perf_counter() - started)
    return SCHEMA_VERSION


def _record_version(conn: sqlite3.Connection, version: int) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                 "applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))")
    conn.execute("INSERT OR IGNORE INTO schema_version (version) VALUES (?)", (version,))
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(version),)
    )


def _migrate_to_2(conn: sqlite3.Connection) -> None:
    """Contract v2: every record gets a version (existing ones start at 1) and the
    live-hash index the create check uses."""
    conn.execute("ALTER TABLE records ADD COLUMN version INTEGER NOT NULL DEFAULT 1")


def _migrate_to_3(conn: sqlite3.Connection) -> None:
    """Cheaper bulk writes: the store indexes new records' text per batch (the
    insert trigger goes), and the agent/run scope indexes become partial (the DDL
    that runs after the migration creates them again in that form). Existing rows
    keep their keyword-index entries."""
    conn.execute("DROP TRIGGER IF EXISTS records_fts_insert")
    conn.execute("DROP INDEX IF EXISTS records_by_agent")
    conn.execute("DROP INDEX IF EXISTS records_by_run")


def _migrate_to_4(conn: sqlite3.Connection) -> None:
    """The user scope index becomes ``(user_id)`` (the DDL after the migration
    creates it), so listing a user scope page by page no longer sorts the scope
    for every page; an export of 100k memories was quadratic."""
    conn.execute("DROP INDEX IF EXISTS records_by_user")


#: columns version 5 added to ``records``: the hash key and the pending ADD entry
V5_COLUMNS = {"hash_key": "INTEGER", "add_id": "TEXT", "add_at": "TEXT", "add_actor": "TEXT",
              "add_reason": "TEXT"}


def _migrate_to_5(conn: sqlite3.Connection) -> None:
    """The integer hash key and its index replace the text hash index; the lazy-ADD
    columns start empty (old records keep their history rows). Every live row's key
    is filled here, in this transaction, so the duplicate check sees all of them."""
    present = {row[1] for row in conn.execute("SELECT * FROM pragma_table_info('records')")}
    for name, kind in V5_COLUMNS.items():
        if name not in present:
            conn.execute(f"ALTER TABLE records ADD COLUMN {name} {kind}")
    # one streaming UPDATE through a SQL function: a list of every row's key would
    # hold ~100 bytes a record in Python (1 GB for a 10M-record file)
    conn.create_function("memplane_hash_key", 1, hash_key, deterministic=True)
    conn.execute("UPDATE records SET hash_key = memplane_hash_key(hash) "
                 "WHERE hash <> '' AND hash_key IS NULL")
    conn.execute("DROP INDEX IF EXISTS records_live_hash")


#: schema steps: MIGRATIONS[n] turns a version n-1 file into version n.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    2: _migrate_to_2, 3: _migrate_to_3, 4: _migrate_to_4, 5: _migrate_to_5,
}


_REQUIRED_COLUMNS = {
    "records": {"seq", "id", "user_id", "agent_id", "run_id", "text", "fts_text", "scope_terms",
                "metadata", "hash", "created_at", "updated_at", "observed_at", "deleted_at",
                "expires_at", "source", "attributed_to", "gen", "version", *V5_COLUMNS},
    "vectors": {"seq", "vector"},
    "tombstones": {"seq", "gen"},
    "history": {"seq", "id", "memory_id", "event", "old_text", "new_text", "at", "actor", "reason"},
    "records_fts": {"fts_text", "scope_terms"},
}


def stored_version(conn: sqlite3.Connection) -> int | None:
    """The schema version a file declares (None for a new file)."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone():
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return None if row is None else int(row[0])


def missing_columns(conn: sqlite3.Connection) -> list[str]:
    """Columns this code needs that the file's existing tables lack after migration
    (a file written by an incompatible build). Tables that do not exist yet are not
    reported."""
    missing: list[str] = []
    for table, columns in _REQUIRED_COLUMNS.items():
        present = {row[1] for row in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))}
        if present:
            # version 5's columns last: a file lacking older ones reads as it always did
            missing.extend(f"{table}.{c}" for c in sorted(columns - present,
                                                          key=lambda c: (c in V5_COLUMNS, c)))
    return missing


def _split(ddl: str) -> list[str]:
    """Split the DDL into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    current: list[str] = []
    for line in ddl.strip().splitlines():
        current.append(line)
        text = "\n".join(current)
        if sqlite3.complete_statement(text):
            statements.append(text)
            current = []
    return statements
