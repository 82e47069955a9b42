"""The sqlite store's approximate index: with ANN forced on small data, results must
equal exact search (the index only proposes candidates; everything is re-scored and
checked exactly), stay consistent with writes from another process, and persist."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memplane.models import Change, MemoryRecord, Scope, utcnow
from memplane.stores.sqlite import SQLiteStore
from memplane.stores.sqlite import ann as ann_module

pytest.importorskip("usearch")

DIM = 16
ALICE = Scope(user_id="alice")


def forced(path: Path, **overrides: Any) -> SQLiteStore:
    store = SQLiteStore(path=str(path), ann_min_rows=1, ann_background_build=False,
                        ann_dtype="f32", **overrides)
    store.open(DIM)
    return store


def exact(path: Path) -> SQLiteStore:
    store = SQLiteStore(path=str(path), ann=False)
    store.open(DIM)
    return store


def fill(store: SQLiteStore, n: int, seed: int = 0, scope: Scope = ALICE) -> list[MemoryRecord]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    records = [MemoryRecord(text=f"memory {seed}-{i}", scope=scope, metadata={"i": i, "odd": i % 2})
               for i in range(n)]
    store.apply([Change(record=r, vector=v.tolist()) for r, v in zip(records, vectors, strict=True)])
    return records


def queries(n: int = 20) -> list[list[float]]:
    rows: list[list[float]] = np.random.default_rng(99).standard_normal((n, DIM)).tolist()
    return rows


def ids(store: SQLiteStore, q: list[float], **kwargs: Any) -> list[tuple[str, float]]:
    return [(h.id, round(h.score, 5)) for h in store.search(q, ALICE, **kwargs)]


def test_forced_ann_gives_the_exact_results_on_small_data(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = forced(path)
    fill(store, 300)
    reference = exact(path)
    for q in queries():
        assert ids(store, q, limit=10) == ids(reference, q, limit=10)
    entry = store._cache.entry(tuple(ALICE.items()), DIM)
    assert entry.ann is not None and entry.ann.count == 300  # the index did answer
    store.close()
    reference.close()


def test_filters_soft_deletes_and_expiry_keep_exact_semantics(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    store = forced(path)
    records = fill(store, 300)
    # soft-delete every third record, expire a few, as the core does with versions
    changes = []
    for r in records[::3]:
        changes.append(Change(record=r.model_copy(update={"deleted_at": utcnow(), "version": 2}),
                              expected_version=1))
    for r in records[1:30:3]:
        changes.append(Change(record=r.model_copy(update={"expires_at": utcnow(), "version": 2}),
                              expected_version=1))
    store.apply(changes)
    reference = exact(path)
    for q in queries():
        for kwargs in ({}, {"filters": {"odd": 1}}, {"filters": {"i": {"lt": 5}}},
                       {"filters": {"i": 1000}}, {"include_deleted": True}):
            assert ids(store, q, limit=10, **kwargs) == ids(reference, q, limit=10, **kwargs), kwargs
    store.close()
    reference.close()


def test_writes_and_hard_deletes_after_the_build_are_seen(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    store = forced(path, ann_expansion_search=8)
    records = fill(store, 300)
    store.search(queries()[0], ALICE)  # builds the index at this generation
    built = store._cache.entry(tuple(ALICE.items()), DIM).ann
    target = np.asarray(queries()[1], dtype=np.float32)
    newcomer = MemoryRecord(text="newcomer", scope=ALICE)
    moved = records[5].model_copy(update={"version": 2, "text": "moved"})
    store.apply([Change(record=newcomer, vector=target.tolist()),
                 Change(record=moved, vector=(-target).tolist(), expected_version=1)])
    store.delete([records[7].id], ALICE)
    reference = exact(path)
    for q in queries():
        assert ids(store, q, limit=10) == ids(reference, q, limit=10)
    hits = store.search(target.tolist(), ALICE, limit=3)
    assert hits[0].id == newcomer.id  # written after the build, found anyway
    assert moved.id not in [h.id for h in store.search(target.tolist(), ALICE, limit=50)]
    assert store._cache.entry(tuple(ALICE.items()), DIM).ann is built  # small delta: no rebuild
    store.close()
    reference.close()


def _write_elsewhere(path: str, text: str, vector: list[float]) -> None:
    store = SQLiteStore(path=path, ann=False)
    store.apply([Change(record=MemoryRecord(text=text, scope=ALICE), vector=vector)])
    store.close()


def test_writes_from_another_process_are_seen(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    store = forced(path)
    fill(store, 200)
    q = queries()[2]
    store.search(q, ALICE)
    context = multiprocessing.get_context("spawn")
    child = context.Process(target=_write_elsewhere, args=(str(path), "from afar", q))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert store.search(q, ALICE, limit=1)[0].text == "from afar"
    store.close()


def test_the_index_is_persisted_and_loaded_not_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = forced(path)
    fill(store, 200)
    q = queries()[3]
    first = ids(store, q)
    store.close()
    files = list((tmp_path / "s.db.ann").glob("*.usearch"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns

    again = forced(path)
    assert ids(again, q) == first
    entry = again._cache.entry(tuple(ALICE.items()), DIM)
    assert entry.ann is not None and entry.ann.count == 200
    assert [f.stat().st_mtime_ns for f in (tmp_path / "s.db.ann").glob("*.usearch")] == [stamp]
    again.reset()  # a reset moves the epoch: the saved index no longer applies
    fill(again, 50, seed=1)
    assert len(again.search(q, ALICE, limit=100)) == 50
    again.close()


def test_background_build_answers_exactly_until_ready(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    store = SQLiteStore(path=str(path), ann_min_rows=1, ann_dtype="i8")
    store.open(DIM)
    fill(store, 300)
    reference = exact(path)
    q = queries()[4]
    assert ids(store, q) == ids(reference, q)  # exact, or the index once built
    store._ann.wait()
    assert ids(store, q) == ids(reference, q)  # int8 candidates, exact re-scoring
    assert store._cache.entry(tuple(ALICE.items()), DIM).ann is not None
    store.close()
    reference.close()


def test_without_usearch_search_is_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ann_module, "available", lambda: False)
    store = forced(tmp_path / "n.db")
    fill(store, 50)
    assert len(store.search(queries()[0], ALICE, limit=5)) == 5
    assert store._cache.entry(tuple(ALICE.items()), DIM).ann is None
    store.close()
