"""Declared capabilities, exercised the way they are used: ``persistent`` and
``concurrent_writers`` across processes, ``atomic_apply`` with a failure the store
itself must detect in the middle of a batch, ``vector_read`` with scopes."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import pytest

from memplane.errors import MemplaneError
from memplane.models import HistoryEvent, Scope
from memplane.providers.base import VectorStore
from memplane_conformance.child import result_of, run_child, spec_of
from memplane_conformance.contract import skip_unless_capable
from memplane_conformance.data import (
    DIM,
    add_change,
    basis,
    cosine,
    random_unit,
    record,
    update_change,
)
from memplane_conformance.store_common import ALICE, BOB, fill, ids_of


class StoreCapabilityTests:
    """Mixed into :class:`~memplane_conformance.VectorStoreContract`."""

    _memplane_suite_class: ClassVar[bool] = True

    def test_persistent_data_is_seen_by_another_process(
        self, store_factory: Callable[[], VectorStore]
    ) -> None:
        """With ``persistent``, what one process wrote and closed is found by the next
        process that builds the store from the same config: records, history, search.

        Troubleshooting: keep the data outside the process (a file, a server), flush
        and commit before ``close`` returns, and make the config name everything that
        locates it. The children import your store class by module and name and
        unpickle its config: both must be importable and picklable.
        """
        spec_store = store_factory()  # never opened here: embedded engines lock their files
        skip_unless_capable(spec_store, "persistent")
        spec = spec_of(spec_store)
        scope = {"user_id": "alice"}
        wrote = result_of(run_child(spec, "write", dimension=DIM, scope=scope, n=3,
                                    prefix="survives the process", seed=7))
        assert wrote["errors"] == []
        answer = result_of(run_child(spec, "read", dimension=DIM, scope=scope,
                                     ids=wrote["ids"], vector=random_unit(7)))
        assert sorted(r["id"] for r in answer["get"]) == sorted(wrote["ids"]), (
            "a new process did not find what the last one wrote")
        assert answer["history"] == [[wrote["ids"][0], HistoryEvent.ADD.value]]
        assert answer["search"][0] == wrote["ids"][0] and answer["count"] == 3

    def test_concurrent_writers_in_several_processes(
        self, store_factory: Callable[[], VectorStore],
        memplane_new_store: Callable[..., VectorStore],
    ) -> None:
        """With ``concurrent_writers``, three processes writing to the same store at
        once (while this one writes too) all succeed and nothing is lost.

        Troubleshooting: a lock error ("database is locked") in a child means writers
        do not wait for each other: use the backend's locking with a busy timeout and
        short transactions, or drop the capability.
        """
        skip_unless_capable(store_factory(), "concurrent_writers")  # before opening one
        store = memplane_new_store()
        shared = Scope(user_id="shared")
        spec = spec_of(store)
        children = [run_child(spec, "write", dimension=DIM, scope={"user_id": "shared"},
                              n=20, prefix=f"child {n}", seed=1000 * (n + 1)) for n in range(3)]
        local_errors = []
        for j in range(20):
            try:
                store.apply([add_change(record(f"parent {j}", shared), random_unit(j))])
            except MemplaneError as exc:
                local_errors.append(exc)
        answers = [result_of(c) for c in children]
        errors = [e for a in answers for e in a["errors"]] + [repr(e) for e in local_errors]
        assert not errors, f"concurrent writers failed: {errors[:3]}"
        assert store.count(shared) == 80

    def test_atomic_apply_survives_a_failure_mid_batch(
        self, store_factory: Callable[[], VectorStore],
        memplane_new_store: Callable[..., VectorStore],
    ) -> None:
        """With ``atomic_apply``, a batch whose last change the store refuses (an id that
        already belongs to another scope) leaves nothing of the batch: no new records,
        no updated text, no history.

        Troubleshooting: check every change and write the records, vectors and history
        of one ``apply`` in a single transaction (or under one lock, validated first);
        a failure must roll back the changes already made.
        """
        skip_unless_capable(store_factory(), "atomic_apply")
        store = memplane_new_store()
        [owned] = fill(store, BOB, 1, prefix="bob's")
        [existing] = fill(store, ALICE, 1, prefix="alice's", start=10)
        new = record("first of the batch", ALICE, minutes=20)
        update = update_change(existing, "changed by the batch", basis(2))
        intruder = record("takes bob's id", ALICE, id=owned.id, minutes=30)
        with pytest.raises(MemplaneError):
            store.apply([add_change(new, basis(1)), update, add_change(intruder, basis(3))])
        assert store.get([new.id], ALICE) == [], "the first change of a failed batch landed"
        assert store.history(new.id, ALICE) == []
        [kept] = store.get([existing.id], ALICE)
        assert kept.text == existing.text, "an update of a failed batch landed"
        assert [e.event for e in store.history(existing.id, ALICE)] == [HistoryEvent.ADD]
        assert store.get([owned.id], BOB)[0].text == owned.text
        assert store.count(ALICE, include_deleted=True) == 1

    def test_vector_read_returns_stored_vectors_in_scope(
        self, store_factory: Callable[[], VectorStore],
        memplane_new_store: Callable[..., VectorStore],
    ) -> None:
        """With ``vector_read``, ``get_vectors`` returns each stored vector (same
        direction), keeps it across a ``vector=None`` update, skips missing ids and
        ids of other scopes.

        Troubleshooting: read vectors with the same scope condition as ``get``; a store
        that normalises may return unit vectors, but the direction must be the one
        written.
        """
        skip_unless_capable(store_factory(), "vector_read")
        store = memplane_new_store()
        a, b = (record(t, ALICE, minutes=i) for i, t in enumerate(("first", "second")))
        theirs = record("bob's", BOB)
        va, vb = [3.0 * x for x in random_unit(1)], random_unit(2)
        store.apply([add_change(a, va), add_change(b, vb), add_change(theirs, random_unit(3))])
        store.apply([update_change(a, "first, edited", None)])
        got = store.get_vectors([a.id, b.id, theirs.id, "missing"], ALICE)
        assert sorted(got) == sorted([a.id, b.id]), "get_vectors ignored the scope or ids"
        for rid, vector in ((a.id, va), (b.id, vb)):
            assert len(got[rid]) == DIM and all(math.isfinite(x) for x in got[rid])
            assert cosine(got[rid], vector) == pytest.approx(1.0, abs=1e-4), rid
        assert store.get_vectors([theirs.id], ALICE) == {}
        assert ids_of(store.get([theirs.id], BOB)) == [theirs.id]
