"""The server's own SQLite file: API keys (hashed), the audit log, the cursor secret.

Every worker process opens it; WAL and a busy timeout let them share it. Each thread
keeps its own connection: closing the last connection to a WAL database checkpoints
it (an fsync), which made every audited write 18 ms slower when connections were
opened per call.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    key_id TEXT PRIMARY KEY,
    name TEXT,
    secret_sha256 TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0,
    scopes TEXT NOT NULL,            -- JSON list of scope objects
    created_at TEXT NOT NULL,
    rotated_at TEXT,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    key_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    scope TEXT NOT NULL,             -- JSON scope object
    memory_ids TEXT NOT NULL,        -- JSON list
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_key ON audit(key_id, seq);
-- append-only: the database itself refuses to rewrite history
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS server_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class ServerDB:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as conn:
            conn.executescript(SCHEMA)
            # one secret per database: every worker signs cursors the same way
            conn.execute("INSERT OR IGNORE INTO server_meta VALUES ('cursor_secret', ?)",
                         (secrets.token_hex(32),))

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                   check_same_thread=True)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            # the durability of core's SQLite store: a crash of the process loses nothing,
            # a power cut may lose the last commits (of the store and the audit alike)
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        yield conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def meta(self, name: str) -> str:
        with self.connect() as conn:
            row = conn.execute("SELECT value FROM server_meta WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise KeyError(name)
        return str(row[0])
