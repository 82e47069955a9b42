"""The store flushes Milvus Lite's write buffer before scanning reads
(`lite_flush_rows`) and after long runs of writes (`lite_max_buffered_rows`); reads by
id go through the primary-key lookup with scope checked on the returned rows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from memplane.errors import ProviderError
from memplane.models import Change, MemoryRecord, Scope
from memplane_milvus.lite_flush import WriteBufferFlusher
from memplane_milvus.store import MilvusVectorStore

ALICE = Scope(user_id="alice")
BOB = Scope(user_id="bob")
VECTOR = [1.0, 0.5, 0.0, 0.25, 0.0, 0.0, 0.5, 1.0]


def _change(rid: str, scope: Scope = ALICE, text: str | None = None) -> Change:
    record = MemoryRecord(id=rid, text=text or f"memory {rid}", scope=scope)
    return Change(record=record, vector=VECTOR)


def _flushed_files(store: MilvusVectorStore) -> list[Path]:
    # Milvus Lite writes flushed rows as Parquet data files under the collection's
    # directory; rows still in the write buffer are only in its write-ahead log.
    root = Path(store.config.uri)
    return [p for p in root.rglob("data_*.parquet") if store.config.collection in p.parts]


def test_flusher_flushes_before_a_read_once_enough_rows_are_buffered() -> None:
    flushes: list[int] = []
    flusher = WriteBufferFlusher(3, 0, lambda: flushes.append(1))
    flusher.written(2)
    flusher.reading()
    assert flushes == [] and flusher.pending == 2
    flusher.written(5)  # writes alone never flush without max_buffered
    assert flushes == [] and flusher.pending == 7
    flusher.reading()
    assert flushes == [1] and flusher.pending == 0
    flusher.reading()  # nothing buffered: no flush
    assert flushes == [1]


def test_flusher_flushes_after_a_write_once_max_buffered_is_reached() -> None:
    flushes: list[int] = []
    flusher = WriteBufferFlusher(0, 4, lambda: flushes.append(1))
    flusher.written(3)
    assert flushes == []
    flusher.written(1)
    assert flushes == [1] and flusher.pending == 0
    flusher.written(9)  # one batch past the bound: one flush
    flusher.reading()  # before_read 0: reads never flush
    assert flushes == [1, 1]


def test_flusher_keeps_counting_after_a_failed_flush_and_retries() -> None:
    attempts: list[str] = []

    def flaky() -> None:
        attempts.append("try")
        if len(attempts) == 1:
            raise ProviderError("flush refused", provider="milvus", retryable=True)

    flusher = WriteBufferFlusher(2, 0, flaky)
    flusher.written(2)
    flusher.reading()  # fails: the rows stay pending, no error reaches the reader
    assert attempts == ["try"] and flusher.pending == 2
    flusher.reading()
    assert attempts == ["try", "try"] and flusher.pending == 0


def test_zero_thresholds_never_flush() -> None:
    flushes: list[int] = []
    flusher = WriteBufferFlusher(0, 0, lambda: flushes.append(1))
    flusher.written(10_000)
    flusher.reading()
    assert flushes == [] and not flusher.active


@pytest.mark.parametrize("read", ["search", "keyword_search", "count", "list_records"])
def test_lite_buffer_is_flushed_before_a_scanning_read(
    make_store: Callable[..., MilvusVectorStore], read: str
) -> None:
    store = make_store(lite_flush_rows=3, lite_max_buffered_rows=0)
    store.open(8)
    store.apply([_change("a"), _change("b")])
    store.search(VECTOR, ALICE)
    assert _flushed_files(store) == [], "two buffered rows are below the threshold"
    store.apply([_change("c"), _change("d")])
    assert _flushed_files(store) == [], "writes alone do not flush"
    reads: dict[str, Callable[[], object]] = {
        "search": lambda: store.search(VECTOR, ALICE, limit=10),
        "keyword_search": lambda: store.keyword_search("memory", ALICE, limit=10),
        "count": lambda: store.count(ALICE),
        "list_records": lambda: store.list_records(ALICE),
    }
    result = reads[read]()
    assert _flushed_files(store), f"{read} should have flushed the four buffered rows"
    assert result  # the read itself still sees every row
    assert store.count(ALICE) == 4
    hits = store.search(VECTOR, ALICE, limit=10)
    assert sorted(h.record.id for h in hits) == ["a", "b", "c", "d"]


def test_lite_buffer_is_flushed_after_writes_reach_the_bound(
    make_store: Callable[..., MilvusVectorStore],
) -> None:
    store = make_store(lite_flush_rows=0, lite_max_buffered_rows=3)
    store.open(8)
    store.apply([_change("a"), _change("b")])
    assert _flushed_files(store) == []
    store.apply([_change("c")])
    assert _flushed_files(store), "three written rows should have been flushed to a segment"
    store.apply([_change("d")])  # buffered again; reads see flushed and buffered rows alike
    assert [r.id for r in store.get(["a", "b", "c", "d"], ALICE)] == ["a", "b", "c", "d"]
    hits = store.search(VECTOR, ALICE, limit=10)
    assert sorted(h.record.id for h in hits) == ["a", "b", "c", "d"]


def test_zero_thresholds_leave_the_buffer_to_milvus_lite(
    make_store: Callable[..., MilvusVectorStore],
) -> None:
    store = make_store(lite_flush_rows=0, lite_max_buffered_rows=0)
    store.open(8)
    store.apply([_change(f"m{i}") for i in range(10)])
    assert store.count(ALICE) == 10
    assert _flushed_files(store) == []


def test_updates_across_a_flush_keep_one_row_and_the_whole_history(
    make_store: Callable[..., MilvusVectorStore],
) -> None:
    from memplane.models import HistoryEntry

    store = make_store(lite_flush_rows=0, lite_max_buffered_rows=1)
    store.open(8)
    first = _change("x", text="likes tea")
    store.apply([first.model_copy(update={"history": HistoryEntry(
        memory_id="x", event="ADD", new_text="likes tea")})])
    updated = first.record.model_copy(update={"text": "likes green tea", "version": 2})
    store.apply([Change(record=updated, expected_version=1, history=HistoryEntry(
        memory_id="x", event="UPDATE", old_text="likes tea", new_text="likes green tea"))])
    assert [r.text for r in store.get(["x"], ALICE)] == ["likes green tea"]
    assert [e.event for e in store.history("x", ALICE)] == ["ADD", "UPDATE"]
    assert store.count(ALICE) == 1


def test_reads_by_id_stay_in_scope(store: MilvusVectorStore) -> None:
    store.apply([
        _change("a1", ALICE), _change("b1", BOB),
        _change("ab", Scope(user_id="alice", agent_id="helper")),
    ])
    assert [r.id for r in store.get(["a1", "b1", "ab"], ALICE)] == ["a1", "ab"]
    assert [r.id for r in store.get(["a1", "b1", "ab"], Scope(agent_id="helper"))] == ["ab"]
    assert store.get_vectors(["a1", "b1"], BOB).keys() == {"b1"}
    assert store.history("a1", BOB) == []
    assert store.delete(["a1"], BOB) == 0
    assert store.delete(["b1", "b1"], BOB) == 1  # a repeated id is one memory
    assert [r.id for r in store.get(["a1", "b1"], ALICE)] == ["a1"]
    assert store.get(["b1"], BOB) == []


def test_get_can_leave_out_soft_deleted_records(store: MilvusVectorStore) -> None:
    from datetime import UTC, datetime

    live, gone = _change("live"), _change("gone")
    deleted = gone.record.model_copy(update={"deleted_at": datetime.now(UTC)})
    store.apply([live, Change(record=deleted, vector=gone.vector)])
    assert [r.id for r in store.get(["live", "gone"], ALICE)] == ["live", "gone"]
    assert [r.id for r in store.get(["live", "gone"], ALICE, include_deleted=False)] == ["live"]


@pytest.mark.parametrize(
    "hostile", ['x" or id != "', "a\\", 'q"]', "{p0}", "b'] or id in ['other", "it's"]
)
def test_hostile_ids_are_looked_up_literally(store: MilvusVectorStore, hostile: str) -> None:
    store.apply([_change(hostile), _change("other")])
    assert [r.id for r in store.get([hostile], ALICE)] == [hostile]
    assert store.delete([hostile], ALICE) == 1
    assert [r.id for r in store.get([hostile, "other"], ALICE)] == ["other"]
