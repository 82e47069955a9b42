"""Store contract v2: versions, compare-and-set, scope ownership, one live copy per text.

:class:`StoreContractV2` is mixed into
:class:`~memplane_conformance.vector_store.VectorStoreContract`; it uses that class's
``store`` / ``memplane_new_store`` / ``memplane_reopen`` fixtures. The race tests
drive a real :class:`~memplane.Memory` (rules LLM, hashing embedder) over the store
under test: threads on one instance for every store, and several processes on the
same data where the store declares ``persistent`` and ``concurrent_writers``.
"""

from __future__ import annotations

import importlib
import multiprocessing
import random
import threading
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import pytest

from memplane.embedders.hashing import HashingEmbedder
from memplane.errors import (
    Conflict,
    DuplicateMemory,
    IdOwnedByAnotherScope,
    MemoryNotFound,
)
from memplane.llms.rules import RulesLLM
from memplane.memory import Memory
from memplane.models import HistoryEntry, HistoryEvent, MemoryRecord, Scope
from memplane.providers.base import VectorStore
from memplane_conformance.contract import skip_unless_capable
from memplane_conformance.data import (
    add_change,
    basis,
    record,
    restore_change,
    soft_delete_change,
    update_change,
)

ALICE = Scope(user_id="alice")
BOB = Scope(user_id="bob")
#: the race tests embed with the hashing embedder at this size (few collisions).
RACE_DIM = 64
RACE_USER = "racer"
RACE_THREADS = 6
RACE_OPS = 25
SAME_FACT = "I like green tea"


class StoreContractV2:
    """Contract-v2 tests; include by inheritance (VectorStoreContract does)."""

    #: the run guard (guard.py) only sees tests of classes that set this.
    _memplane_suite_class: ClassVar[bool] = True

    # --- compare-and-set ----------------------------------------------------------
    def test_v2_stale_version_is_refused_and_writes_nothing(self, store: VectorStore) -> None:
        """A change expecting an older version is a Conflict; nothing of its batch lands.

        Troubleshooting: inside the write transaction/lock, compare the stored version
        with ``Change.expected_version`` for every change of the batch before writing
        any (``memplane.providers.check_versions`` does it for you).
        """
        rec, other = record("likes tea", ALICE), record("likes jazz", ALICE)
        store.apply([add_change(rec, basis(0)), add_change(other, basis(1))])
        newer = update_change(rec, "likes coffee", None)
        store.apply([newer])
        stale = update_change(rec, "likes cocoa", basis(2))  # expects version 1, stored 2
        fine = update_change(other, "likes blues", None)
        with pytest.raises(Conflict) as refused:
            store.apply([fine, stale])
        assert (refused.value.memory_id, refused.value.expected, refused.value.actual) == (
            rec.id, 1, 2)
        assert {r.id: (r.text, r.version) for r in store.get([rec.id, other.id], ALICE)} == {
            rec.id: ("likes coffee", 2), other.id: ("likes jazz", 1)}
        assert [e.event for e in store.history(rec.id, ALICE)] == [HistoryEvent.ADD,
                                                                 HistoryEvent.UPDATE]
        if "vector_read" in store.capabilities:  # the stale change's vector did not land
            assert store.get_vectors([rec.id], ALICE)[rec.id] == pytest.approx(basis(0), abs=1e-6)

    def test_v2_every_change_bumps_the_version(self, store: VectorStore) -> None:
        """A new memory is version 1 and every applied change stores the next version.

        Troubleshooting: persist ``record.version`` as given (core sets
        ``expected_version + 1``) and return it from every read.
        """
        rec = record("likes tea", ALICE)
        store.apply([add_change(rec, basis(0))])
        updated = update_change(rec, "likes coffee", None)
        store.apply([updated])
        deleted = soft_delete_change(updated.record)
        store.apply([deleted])
        store.apply([restore_change(deleted.record)])
        [got] = store.get([rec.id], ALICE)
        assert got.version == 4 and got.deleted_at is None and got.text == "likes coffee"
        assert [r.version for r in store.list_records(ALICE).records] == [4]

    def test_v2_create_of_an_existing_id_is_a_conflict(self, store: VectorStore) -> None:
        """``expected_version=None`` creates; an id that exists (even soft-deleted) is a
        Conflict, and the stored record is untouched.

        Troubleshooting: a create must not upsert; look the id up first, in the lock.
        """
        rec = record("likes tea", ALICE)
        store.apply([add_change(rec, basis(0))])
        store.apply([soft_delete_change(rec)])
        again = record("likes cocoa", ALICE, id=rec.id)
        with pytest.raises(Conflict) as refused:
            store.apply([add_change(again, basis(1))])
        assert refused.value.expected is None and refused.value.actual == 2
        [got] = store.get([rec.id], ALICE)
        assert got.text == "likes tea" and got.deleted_at is not None

    # --- scope ownership ---------------------------------------------------------------
    def test_v2_id_owned_by_another_scope_is_refused(self, store: VectorStore) -> None:
        """An id that exists in another scope is refused (IdOwnedByAnotherScope), never
        moved or copied; the message does not reveal the owner's scope.

        Troubleshooting: look the id up without the scope filter before writing; a
        primary-key upsert would move the row into the caller's scope.
        """
        mine = record("alice's secret", ALICE)
        store.apply([add_change(mine, basis(0))])
        theirs = mine.model_copy(update={"scope": BOB, "text": "bob's now"})
        with pytest.raises(IdOwnedByAnotherScope) as as_create:
            store.apply([add_change(theirs, basis(1))])
        assert "alice" not in str(as_create.value)
        moved = update_change(theirs, "bob's edit", basis(1))
        with pytest.raises(IdOwnedByAnotherScope):
            store.apply([moved])
        assert store.get([mine.id], BOB) == [] and store.count(BOB, include_deleted=True) == 0
        [got] = store.get([mine.id], ALICE)
        assert (got.text, got.version) == ("alice's secret", 1)

    # --- one live copy per text ----------------------------------------------------------
    def test_v2_one_live_memory_per_text_and_scope(self, store: VectorStore) -> None:
        """A create whose text hash a live record of the same scope holds is refused
        with DuplicateMemory (naming it); other scopes and deleted copies do not count.

        Troubleshooting: check ``(scope, hash)`` among live records in the write lock
        (SQL stores: a lookup or partial index on scope and hash where not deleted).
        """
        first = record("Likes tea", ALICE)
        store.apply([add_change(first, basis(0))])
        twin = record("likes tea.", ALICE)  # the same normalised text
        with pytest.raises(DuplicateMemory) as refused:
            store.apply([add_change(twin, basis(0))])
        assert refused.value.existing_id == first.id
        assert store.count(ALICE) == 1
        store.apply([add_change(record("likes tea", BOB), basis(0))])  # another scope
        store.apply([soft_delete_change(first)])
        store.apply([add_change(twin, basis(0))])  # the old copy is deleted
        assert [r.id for r in store.list_records(ALICE).records] == [twin.id]

    # --- races through Memory ----------------------------------------------------------
    def test_v2_racing_update_delete_restore_threads(
        self, memplane_new_store: Callable[..., VectorStore],
    ) -> None:
        """Threads racing update/delete/restore on one memory leave a history that
        replays to the stored record: no UPDATE after DELETE without RESTORE, no
        update based on a text that was already replaced, every committed update in it.

        Troubleshooting: ``_apply`` must compare versions and write in one critical
        section (transaction or lock); a check outside it lets a stale write through.
        """
        store = memplane_new_store(RACE_DIM)
        memory = _race_memory(store)
        memory_id = _seed(memory)
        committed: list[str] = []
        errors: list[BaseException] = []
        start = threading.Barrier(RACE_THREADS)

        def work(n: int) -> None:
            try:
                start.wait()
                committed.extend(random_ops(memory, memory_id, f"t{n}", n, RACE_OPS))
            except BaseException as exc:  # reported below
                errors.append(exc)

        _join([threading.Thread(target=work, args=(n,)) for n in range(RACE_THREADS)])
        assert not errors, f"racing writers failed: {errors[:3]!r}"
        assert_history_replays(memory, memory_id, committed)

    def test_v2_racing_update_delete_restore_processes(
        self, memplane_new_store: Callable[..., VectorStore],
    ) -> None:
        """The same race from several processes on the same data (``concurrent_writers``).

        Troubleshooting: the version check must hold across processes: inside the
        database transaction, or a conditional write the server evaluates.
        """
        store = memplane_new_store(RACE_DIM)
        _require_processes(store)
        memory = _race_memory(store)
        memory_id = _seed(memory)
        committed = _in_processes(store, "ops", memory_id)
        assert_history_replays(memory, memory_id, committed)

    def test_v2_concurrent_identical_adds_leave_one_memory_threads(
        self, memplane_new_store: Callable[..., VectorStore],
    ) -> None:
        """Threads adding the same fact at once leave one live memory, as sequential
        adds do.

        Troubleshooting: refuse a create whose hash a live record of the scope holds
        (DuplicateMemory) inside the write lock; core turns it into NONE.
        """
        store = memplane_new_store(RACE_DIM)
        memory = _race_memory(store)
        errors: list[BaseException] = []
        start = threading.Barrier(RACE_THREADS)

        def work() -> None:
            try:
                start.wait()
                memory.add(SAME_FACT, user_id=RACE_USER)
            except BaseException as exc:  # reported below
                errors.append(exc)

        _join([threading.Thread(target=work) for _ in range(RACE_THREADS)])
        assert not errors, f"concurrent adds failed: {errors[:3]!r}"
        assert len(memory.get_all(user_id=RACE_USER).records) == 1

    def test_v2_concurrent_identical_adds_leave_one_memory_processes(
        self, memplane_new_store: Callable[..., VectorStore],
    ) -> None:
        """The same from several processes on the same data (``concurrent_writers``).

        Troubleshooting: the duplicate check (a live record of the scope with the same
        hash) must run inside the cross-process write transaction, or as a unique
        constraint / conditional write the backend enforces.
        """
        store = memplane_new_store(RACE_DIM)
        _require_processes(store)
        memory = _race_memory(store)
        _in_processes(store, "add", "")
        assert len(memory.get_all(user_id=RACE_USER).records) == 1


# --- helpers (module level: worker processes import them) -------------------------------


def _race_memory(store: VectorStore) -> Memory:
    return Memory(llm=RulesLLM(), embedder=HashingEmbedder(dimension=RACE_DIM), vector_store=store)


def _seed(memory: Memory) -> str:
    result = memory.add("the seed fact", user_id=RACE_USER, infer=False)
    [event] = result.events
    assert event.id is not None
    return event.id


def _join(threads: Sequence[threading.Thread]) -> None:
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)


def random_ops(memory: Memory, memory_id: str, tag: str, seed: int, ops: int) -> list[str]:
    """Random updates (unique texts), deletes and restores; returns the texts of the
    updates that reported success. Losing a race is MemoryNotFound or Conflict."""
    rng = random.Random(seed)
    committed = []
    for i in range(ops):
        op = rng.choice(("update", "update", "delete", "restore"))
        try:
            if op == "update":
                text = f"{tag} says {i}"
                if memory.update(memory_id, text, user_id=RACE_USER).event == "UPDATE":
                    committed.append(text)
            elif op == "delete":
                memory.delete(memory_id, user_id=RACE_USER)
            else:
                memory.restore(memory_id, user_id=RACE_USER)
        except (MemoryNotFound, Conflict):
            pass
    return committed


def replay(history: Sequence[HistoryEntry]) -> tuple[str | None, bool]:
    """The (text, deleted) a history leads to; AssertionError where it is impossible."""
    text: str | None = None
    deleted = False
    for n, entry in enumerate(history):
        where = f"history entry {n} ({entry.event})"
        if entry.event == HistoryEvent.ADD:
            assert text is None, f"{where}: a second ADD"
            text = entry.new_text
        elif entry.event == HistoryEvent.UPDATE:
            assert not deleted, f"{where}: UPDATE of a deleted memory without RESTORE"
            assert entry.old_text == text, f"{where}: updated {entry.old_text!r}, not {text!r}"
            text = entry.new_text
        elif entry.event == HistoryEvent.DELETE:
            assert not deleted, f"{where}: DELETE of a deleted memory"
            assert entry.old_text == text, f"{where}: deleted {entry.old_text!r}, not {text!r}"
            deleted = True
        else:
            assert deleted, f"{where}: RESTORE of a live memory"
            deleted = False
    return text, deleted


def assert_history_replays(memory: Memory, memory_id: str, committed: Sequence[str]) -> None:
    history = memory.history(memory_id, user_id=RACE_USER)
    stored: MemoryRecord = memory.get(memory_id, user_id=RACE_USER, include_deleted=True)
    text, deleted = replay(history)
    assert (stored.text, stored.deleted_at is not None) == (text, deleted), (
        "the stored memory is not what its history replays to")
    assert stored.version == len(history), "one version per applied change"
    updates = {e.new_text for e in history if e.event == HistoryEvent.UPDATE}
    lost = [t for t in committed if t not in updates]
    assert not lost, f"updates reported as applied but missing from the history: {lost[:3]}"


def _require_processes(store: VectorStore) -> None:
    skip_unless_capable(store, "concurrent_writers")
    skip_unless_capable(store, "persistent")


def _in_processes(store: VectorStore, job: str, memory_id: str, workers: int = 3) -> list[str]:
    """Run ``job`` in ``workers`` spawned processes on a store built from this one's
    config; returns what they report (committed update texts)."""
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    where = (type(store).__module__, type(store).__qualname__)
    config = store.config.model_dump(mode="json")
    procs = [ctx.Process(target=_worker, args=(where, config, job, memory_id, n, start, results))
             for n in range(workers)]
    for p in procs:
        p.start()
    start.set()
    out: list[str] = []
    failures = []
    for _ in procs:
        status, value = results.get(timeout=600)
        if status == "ok":
            out.extend(value)
        else:
            failures.append(value)
    for p in procs:
        p.join(timeout=60)
    assert not failures, f"worker processes failed: {failures[:2]}"
    return out


def _worker(where: tuple[str, str], config: dict[str, Any], job: str, memory_id: str, n: int,
            start: Any, results: Any) -> None:
    try:
        cls = getattr(importlib.import_module(where[0]), where[1])
        store = cls(config)
        with _race_memory(store) as memory:
            start.wait(timeout=120)
            if job == "add":
                memory.add(SAME_FACT, user_id=RACE_USER)
                value: list[str] = []
            else:
                value = random_ops(memory, memory_id, f"p{n}", 1000 + n, RACE_OPS)
        store.close()
        results.put(("ok", value))
    except BaseException as exc:
        results.put(("error", f"{type(exc).__name__}: {exc}"))
