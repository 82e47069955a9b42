"""SQLite connections: one per thread on a file, one shared (locked) for ``:memory:``."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from memplane.errors import ProviderError

MEMORY = ":memory:"


class Connections:
    """Hands out the calling thread's connection, configured by ``setup``.

    A file database gets a connection per thread (WAL lets readers and one
    writer proceed together). ``:memory:`` is private to one connection, so
    every thread shares a single connection under a lock.
    """

    def __init__(self, path: str, busy_timeout_ms: int,
                 setup: Callable[[sqlite3.Connection], None]) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._setup = setup
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self._shared_lock = threading.RLock()
        self._shared: sqlite3.Connection | None = None
        self._closed = False
        self._pid = os.getpid()

    @property
    def in_memory(self) -> bool:
        return self.path == MEMORY

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout_ms / 1000.0,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,  # close() may run on another thread
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            if not self.in_memory:
                retry_while_busy(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchall(),
                                 self.busy_timeout_ms)
                conn.execute("PRAGMA synchronous = NORMAL")
            self._setup(conn)
        except BaseException:
            conn.close()
            raise
        with self._guard:
            self._all.append(conn)
        return conn

    @contextmanager
    def use(self) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise ProviderError(
                f"the sqlite store at {self.path!r} is closed; create a new store to use it again",
                provider="sqlite",
            )
        if os.getpid() != self._pid:  # forked: the parent's connections are not ours
            self._local = threading.local()
            self._all, self._shared, self._pid = [], None, os.getpid()
        if self.in_memory:
            with self._shared_lock:
                if self._shared is None:
                    self._shared = self._connect()
                yield self._shared
            return
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        yield conn

    def close(self) -> None:
        with self._guard:
            self._closed = True
            connections, self._all = self._all, []
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):  # closing is best effort
                conn.close()
        self._shared = None


def is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def retry_while_busy(action: Callable[[], object], timeout_ms: int) -> None:
    """Run ``action``, retrying on SQLITE_BUSY until ``timeout_ms`` has passed.

    For the few steps SQLite's busy handler does not cover (switching to WAL while
    another process creates the file)."""
    deadline = time.monotonic() + timeout_ms / 1000.0
    delay = 0.005
    while True:
        try:
            action()
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
