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
    row = conn.execute("SELECT value FROM meta WHERE key = 'dimension'").fetchone()
    return None if row is None else int(row[0])
