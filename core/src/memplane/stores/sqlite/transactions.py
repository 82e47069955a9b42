"""Transactions of the SQLite store: connections, schema set-up and error mapping."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from memplane.errors import ConfigurationError, ProviderError, ValidationError
from memplane.stores.sqlite.connections import Connections, is_busy
from memplane.stores.sqlite.schema import (
    SCHEMA_VERSION,
    create_schema,
    missing_columns,
    stored_version,
)


class Database:
    """One SQLite file: write and read transactions, with the schema made ready
    (created or migrated) before the first of them."""

    def __init__(self, path: str, busy_timeout_ms: int,
                 setup: Callable[[sqlite3.Connection], None], provider: str) -> None:
        self.connections = Connections(path, busy_timeout_ms, setup)
        self.provider = provider
        self._schema_ready = False

    @property
    def path(self) -> str:
        return self.connections.path

    def close(self) -> None:
        self.connections.close()

    @contextmanager
    def write(self) -> Iterator[tuple[sqlite3.Connection, int]]:
        """One write transaction; yields the connection and the new write generation.
        ``BEGIN IMMEDIATE`` takes the write lock first, so every check made inside
        sees the state the writes apply to."""
        with self.errors(), self.connections.use() as conn:
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
    def read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every statement inside sees the same snapshot."""
        with self.errors(), self.connections.use() as conn:
            self._ensure_schema(conn)
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

    @contextmanager
    def errors(self) -> Iterator[None]:
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
                provider=self.provider,
                retryable=is_busy(exc),
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise ProviderError(
                f"sqlite store {self.path!r} failed: {exc}", provider=self.provider, retryable=False
            ) from exc

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        if self._schema_ready:
            return
        conn.execute("BEGIN IMMEDIATE")
        missing: list[str] = []
        try:
            version = stored_version(conn) or SCHEMA_VERSION
            if version <= SCHEMA_VERSION:
                version = create_schema(conn)  # creates, or migrates an older file
                missing = missing_columns(conn)
            if missing:
                conn.execute("ROLLBACK")  # leave an incompatible file as it was
            else:
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


def stored_dimension(conn: sqlite3.Connection) -> int | None:
    """The vector size the store records; a hand-edited or damaged record is a
    ConfigurationError that says how to repair it (never an untyped ValueError)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'dimension'").fetchone()
    if row is None:
        return None
    value = row[0]
    text = str(value).strip() if isinstance(value, (str, int)) else ""
    # at most 9 digits: int() of a long digit string is slow, then refused (3.11+)
    if text.isascii() and text.isdigit() and len(text) <= 9 and int(text) > 0:
        return int(text)
    raise _damaged_dimension(conn, value)


def _damaged_dimension(conn: sqlite3.Connection, value: object) -> ConfigurationError:
    path = next((row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"), "")
    where = f"the sqlite store {path!r}" if path else "the in-memory sqlite store"
    blob = conn.execute("SELECT length(vector) FROM vectors LIMIT 1").fetchone()
    if blob is None:
        repair = "DELETE FROM meta WHERE key = 'dimension'"  # empty: the next open records it
    else:
        repair = f"UPDATE meta SET value = '{int(blob[0]) // 4}' WHERE key = 'dimension'"
    return ConfigurationError(
        f"{where} records the vector dimension {str(value)[:40]!r}, which is not a positive "
        f"integer: the file was edited or damaged. Repair the record with "
        f"`sqlite3 {path or 'FILE'} \"{repair}\"` (its vectors say so), or restore the file "
        f"from a backup"
    )
