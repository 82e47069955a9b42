"""Threads and processes writing one sqlite store: no 'database is locked', nothing lost."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from memplane.models import Change, HistoryEntry, HistoryEvent, MemoryRecord, Scope
from memplane.stores.sqlite import SQLiteStore

DIM = 16
BATCHES = 25
BATCH = 8


def _vector(i: int) -> list[float]:
    return [float((i * 7 + k) % 11) - 5.0 for k in range(DIM)]


def _write(store: SQLiteStore, worker: str, batches: int = BATCHES) -> list[str]:
    """Write batches of new memories, then update and soft-delete some of them."""
    scope = Scope(user_id=f"user-{worker}", agent_id="shared")
    ids: list[str] = []
    for b in range(batches):
        changes = []
        for k in range(BATCH):
            record = MemoryRecord(text=f"{worker} fact {b} {k}", scope=scope)
            ids.append(record.id)
            changes.append(Change(record=record, vector=_vector(b * BATCH + k),
                                  history=HistoryEntry(memory_id=record.id, event=HistoryEvent.ADD,
                                                       new_text=record.text)))
        store.apply(changes)
        first = store.get([changes[0].record.id], scope)[0]
        edited = first.model_copy(update={"text": first.text + " (edited)", "version": first.version + 1})
        store.apply([Change(record=edited, expected_version=first.version,
                            history=HistoryEntry(memory_id=first.id, event=HistoryEvent.UPDATE,
                                                 old_text=first.text, new_text=edited.text))])
    return ids


def _read_until(store: SQLiteStore, done: threading.Event, errors: list[BaseException]) -> None:
    scope = Scope(agent_id="shared")
    try:
        while not done.is_set():
            store.search(_vector(3), scope, limit=5)
            store.keyword_search("fact edited", scope, limit=5)
            store.count(scope)
            store.list_records(scope, limit=20)
    except BaseException as exc:  # reported by the test
        errors.append(exc)


def _expect_totals(path: str, writers: int, batches: int = BATCHES) -> None:
    conn = sqlite3.connect(path)
    try:
        records = conn.execute("SELECT count(*) FROM records").fetchone()[0]
        edited = conn.execute("SELECT count(*) FROM records WHERE text LIKE '%(edited)'").fetchone()[0]
        # history entries: rows, plus the ADD entries still kept in their records (schema v5)
        history = conn.execute("SELECT (SELECT count(*) FROM history) + (SELECT count(*) FROM "
                               "records WHERE add_id IS NOT NULL)").fetchone()[0]
        written_out = conn.execute("SELECT count(*) FROM history WHERE event = 'ADD'").fetchone()[0]
        fts = conn.execute("SELECT count(*) FROM records_fts WHERE records_fts MATCH 'edited'").fetchone()[0]
    finally:
        conn.close()
    assert records == writers * batches * BATCH
    assert edited == fts == writers * batches
    assert history == writers * batches * (BATCH + 1)
    assert written_out == writers * batches  # the edited records' ADD rows, written at the edit


@pytest.mark.parametrize("shared_instance", [True, False], ids=["one-instance", "instance-per-thread"])
def test_threads_write_and_read_one_file(tmp_path: Path, shared_instance: bool) -> None:
    path = str(tmp_path / "threads.db")
    first = SQLiteStore(path=path)
    first.open(DIM)
    stores = [first if shared_instance else SQLiteStore(path=path) for _ in range(4)]
    errors: list[BaseException] = []
    done = threading.Event()

    def writer(i: int) -> None:
        try:
            _write(stores[i], f"t{i}")
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    readers = [threading.Thread(target=_read_until, args=(s, done, errors)) for s in stores[:2]]
    for t in writers + readers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    for t in readers:
        t.join()
    assert errors == []
    _expect_totals(path, writers=4)
    assert first.count(Scope(agent_id="shared")) == 4 * BATCHES * BATCH
    hits = first.search(_vector(0), Scope(user_id="user-t1"), limit=1000)
    assert len(hits) == BATCHES * BATCH and all(h.record.scope.user_id == "user-t1" for h in hits)
    for s in {id(s): s for s in stores}.values():
        s.close()


def _process_worker(path: str, worker: str, start: Any, results: Any) -> None:
    store = SQLiteStore(path=path)
    store.open(DIM)
    results.put((worker, "ready"))
    start.wait()  # all three writers begin together
    try:
        results.put((worker, len(_write(store, worker))))
    except BaseException as exc:  # sent to the parent
        results.put((worker, repr(exc)))
    finally:
        store.close()


def test_two_processes_and_this_one_write_one_file(tmp_path: Path) -> None:
    path = str(tmp_path / "procs.db")
    store = SQLiteStore(path=path)
    store.open(DIM)
    scope = Scope(agent_id="shared")
    assert store.search(_vector(1), scope) == []  # build (empty) caches before the others write
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_process_worker, args=(path, f"p{i}", start, results)) for i in range(2)]
    for proc in procs:
        proc.start()
    assert sorted(results.get(timeout=300) for _ in procs) == [("p0", "ready"), ("p1", "ready")]
    start.set()
    _write(store, "main")  # while the two processes write too
    written = sorted(results.get(timeout=300) for _ in procs)
    for proc in procs:
        proc.join(timeout=60)
    assert written == [("p0", BATCHES * BATCH), ("p1", BATCHES * BATCH)]
    _expect_totals(path, writers=3)
    # this process's cache must reflect the other processes' writes
    assert store.count(scope) == 3 * BATCHES * BATCH
    assert len(store.search(_vector(1), scope, limit=10_000)) == 3 * BATCHES * BATCH
    assert len(store.search(_vector(1), Scope(user_id="user-p0"), limit=10_000)) == BATCHES * BATCH
    store.close()


def test_writer_waits_for_a_long_transaction_instead_of_failing(tmp_path: Path) -> None:
    """A writer that meets a held write lock waits for it (busy_timeout) and then succeeds.

    No fixed delays decide the outcome: the lock is held and released on this thread only
    (a connection is never shared between threads), the writer runs on its own thread,
    and the lock is released only once the writer has started its BEGIN IMMEDIATE. The
    writer cannot finish while the lock is held, so finding it unfinished then shows it
    waited instead of failing."""
    path = str(tmp_path / "wait.db")
    store = SQLiteStore(path=path)
    store.open(DIM)
    record = MemoryRecord(text="waited", scope=Scope(user_id="u"))
    begun, outcome = threading.Event(), []

    def writer() -> None:
        try:
            with store._db.connections.use() as conn:  # this thread's own connection
                conn.set_trace_callback(lambda sql: begun.set() if sql == "BEGIN IMMEDIATE" else None)
            store.apply([Change(record=record, vector=_vector(0))])
            outcome.append("applied")
        except BaseException as exc:  # reported by the test
            outcome.append(exc)
            begun.set()

    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # hold the write lock
        thread = threading.Thread(target=writer)
        thread.start()
        assert begun.wait(timeout=120), "the writer never reached BEGIN IMMEDIATE"
        # the writer cannot commit while we hold the lock; the join only gives it a
        # moment to reach its busy wait, and nothing is concluded from how long it took
        thread.join(timeout=0.3)
        assert outcome == [] and thread.is_alive()
        assert blocker.execute("SELECT count(*) FROM records").fetchone()[0] == 0
        blocker.execute("COMMIT")
    finally:
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        blocker.close()
    thread.join(timeout=120)
    assert outcome == ["applied"]
    assert store.get([record.id], Scope(user_id="u"))[0].text == "waited"
    store.close()


def test_lock_held_past_the_timeout_is_a_retryable_error(tmp_path: Path) -> None:
    from memplane.errors import ProviderError

    path = str(tmp_path / "timeout.db")
    store = SQLiteStore(path=path, busy_timeout_ms=50)
    store.open(DIM)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(ProviderError, match="busy_timeout_ms") as caught:
            store.apply([Change(record=MemoryRecord(text="x", scope=Scope(user_id="u")))])
        assert caught.value.retryable
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.count(Scope(user_id="u")) == 0
    store.close()


def _crash_in_the_middle_of_apply(path: str) -> None:
    """Commit one batch, then die (no rollback, no cleanup) inside the next apply."""
    import os

    store = SQLiteStore(path=path)
    store.open(DIM)
    _write(store, "committed", batches=2)
    steps = {"n": 0}

    def die_after_a_while() -> int:
        steps["n"] += 1
        if steps["n"] > 200:  # well inside the big transaction below
            os._exit(17)
        return 0

    with store._db.connections.use() as conn:
        conn.set_progress_handler(die_after_a_while, 100)
    scope = Scope(user_id="user-crashed", agent_id="shared")
    doomed = [MemoryRecord(text=f"doomed {i}", scope=scope) for i in range(5000)]
    store.apply([Change(record=r, vector=_vector(i),
                        history=HistoryEntry(memory_id=r.id, event=HistoryEvent.ADD, new_text=r.text))
                 for i, r in enumerate(doomed)])
    os._exit(0)  # not reached when the crash works


def test_a_crash_in_the_middle_of_apply_leaves_a_consistent_store(tmp_path: Path) -> None:
    path = str(tmp_path / "crash.db")
    proc = multiprocessing.get_context("spawn").Process(target=_crash_in_the_middle_of_apply, args=(path,))
    proc.start()
    proc.join(timeout=300)
    assert proc.exitcode == 17, "the writer should have died inside the transaction"
    store = SQLiteStore(path=path)
    store.open(DIM)
    shared = Scope(agent_id="shared")
    assert store.count(shared) == 2 * BATCH
    assert store.count(Scope(user_id="user-crashed")) == 0
    assert store.keyword_search("doomed", shared) == []
    assert len(store.search(_vector(0), shared, limit=100)) == 2 * BATCH
    conn = sqlite3.connect(path)
    try:
        # history entries: rows, plus the ADD entries kept in their records (schema v5)
        assert conn.execute("SELECT (SELECT count(*) FROM history) + (SELECT count(*) FROM "
                            "records WHERE add_id IS NOT NULL)").fetchone()[0] == 2 * (BATCH + 1)
        assert conn.execute("SELECT count(*) FROM vectors").fetchone()[0] == 2 * BATCH
        conn.execute("INSERT INTO records_fts (records_fts) VALUES ('integrity-check')")
    finally:
        conn.close()
    # and the store keeps working
    _write(store, "after", batches=1)
    assert store.count(shared) == 3 * BATCH
    store.close()
