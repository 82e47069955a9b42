"""The embedded sqlite store: CRUD, history, pagination, search, keyword search, persistence."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memplane.errors import (
    ConfigurationError,
    Conflict,
    DimensionMismatch,
    IdOwnedByAnotherScope,
    ValidationError,
)
from memplane.models import Change, HistoryEntry, HistoryEvent, MemoryRecord, Scope, utcnow
from memplane.plugins.registry import load_provider_class
from memplane.stores.sqlite import SQLiteStore

DIM = 8
ALICE = Scope(user_id="alice")
BOB = Scope(user_id="bob")


def vec(*values: float) -> list[float]:
    out = [0.0] * DIM
    out[: len(values)] = values
    return out


def rng_vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def add(store: SQLiteStore, text: str, scope: Scope = ALICE, vector: list[float] | None = None,
        **fields: object) -> MemoryRecord:
    record = MemoryRecord(text=text, scope=scope, **fields)  # type: ignore[arg-type]
    store.apply([Change(record=record, vector=vector if vector is not None else vec(1.0),
                        history=HistoryEntry(memory_id=record.id, event=HistoryEvent.ADD, new_text=text))])
    return record


def bump(old: MemoryRecord, vector: list[float] | None = None,
         history: HistoryEntry | None = None, **update: object) -> Change:
    """A contract-v2 change of ``old``: the next version, expecting ``old``'s."""
    return Change(record=old.model_copy(update={**update, "version": old.version + 1}),
                  vector=vector, history=history, expected_version=old.version)


@pytest.fixture(params=["file", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SQLiteStore:
    path = str(tmp_path / "m.db") if request.param == "file" else ":memory:"
    s = SQLiteStore(path=path)
    s.open(DIM)
    yield s
    s.close()


def test_entry_point_loads_the_store() -> None:
    assert load_provider_class("vector_stores", "sqlite") is SQLiteStore
    assert {"keyword_search", "persistent", "atomic_apply", "concurrent_writers",
            "vector_read"} <= SQLiteStore.capabilities


def test_default_path_follows_memplane_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEMPLANE_HOME", str(tmp_path / "home"))
    s = SQLiteStore()
    try:
        assert s.path == str(tmp_path / "home" / "memory.db")
        s.open(DIM)
        assert (tmp_path / "home" / "memory.db").exists()
    finally:
        s.close()


def test_config_is_validated() -> None:
    with pytest.raises(ConfigurationError, match="busy_timeout_ms"):
        SQLiteStore(path=":memory:", busy_timeout_ms=-1)
    with pytest.raises(ConfigurationError, match="unknown"):
        SQLiteStore(path=":memory:", unknown=1)


def test_wal_mode_and_busy_timeout(tmp_path: Path) -> None:
    s = SQLiteStore(path=str(tmp_path / "w.db"), busy_timeout_ms=1234)
    s.open(DIM)
    add(s, "x")
    with s._db.connections.use() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 1234
    s.close()


def test_get_roundtrips_every_field(store: SQLiteStore) -> None:
    now = utcnow()
    record = add(store, "likes tea", metadata={"k": [1, "two", {"three": 3.5}], "b": True},
                 observed_at=now - timedelta(days=3), expires_at=now + timedelta(days=1),
                 attributed_to="user", source=[{"role": "user", "content": "I like tea"}])
    [got] = store.get([record.id], ALICE)
    assert got == record.model_copy(update={"created_at": got.created_at, "updated_at": got.updated_at})
    assert got.created_at == record.created_at and got.updated_at == record.updated_at
    assert got.source[0].content == "I like tea"
    assert store.get([record.id, "missing", record.id], ALICE) == [got]


def test_scope_must_match_for_every_read(store: SQLiteStore) -> None:
    record = add(store, "alice's secret")
    assert store.get([record.id], BOB) == []
    assert store.history(record.id, BOB) == []
    assert store.count(BOB) == 0
    assert store.search(vec(1.0), BOB) == []
    assert store.keyword_search("secret", BOB) == []
    assert store.delete([record.id], BOB) == 0
    assert store.count(ALICE) == 1


def test_partial_query_scope_matches_narrower_records(store: SQLiteStore) -> None:
    narrow = add(store, "run memory", scope=Scope(user_id="alice", agent_id="a1", run_id="r1"))
    other_agent = add(store, "other agent", scope=Scope(user_id="alice", agent_id="a2"))
    assert {r.id for r in store.list_records(ALICE).records} == {narrow.id, other_agent.id}
    assert [r.id for r in store.list_records(Scope(agent_id="a1")).records] == [narrow.id]
    assert store.count(Scope(user_id="alice", agent_id="a1", run_id="r2")) == 0


def test_upsert_replaces_keeps_vector_when_none_and_writes_history(store: SQLiteStore) -> None:
    record = add(store, "prefers Python", vector=vec(0.0, 1.0))
    updated = record.model_copy(update={"text": "switched to TypeScript", "updated_at": utcnow()})
    store.apply([bump(record, text=updated.text, updated_at=updated.updated_at,
                      history=HistoryEntry(memory_id=record.id, event=HistoryEvent.UPDATE,
                                           old_text="prefers Python", new_text=updated.text))])
    [got] = store.get([record.id], ALICE)
    assert got.text == "switched to TypeScript"
    assert store.count(ALICE) == 1
    [hit] = store.search(vec(0.0, 1.0), ALICE)  # the old vector was kept
    assert hit.id == record.id and hit.score == pytest.approx(1.0)
    assert store.keyword_search("TypeScript", ALICE)[0].id == record.id
    assert store.keyword_search("Python", ALICE) == []  # the index follows the new text
    events = [(h.event, h.old_text, h.new_text) for h in store.history(record.id, ALICE)]
    assert events == [(HistoryEvent.ADD, None, "prefers Python"),
                      (HistoryEvent.UPDATE, "prefers Python", "switched to TypeScript")]


def test_soft_delete_and_expiry_visibility(store: SQLiteStore) -> None:
    gone = add(store, "deleted fact", vector=vec(1.0))
    store.apply([bump(gone, deleted_at=utcnow(),
                      history=HistoryEntry(memory_id=gone.id, event=HistoryEvent.DELETE))])
    old = add(store, "expired fact", vector=vec(1.0), expires_at=utcnow() - timedelta(seconds=1))
    live = add(store, "live fact", vector=vec(1.0), expires_at=utcnow() + timedelta(days=1))
    assert {r.id for r in store.list_records(ALICE).records} == {live.id}
    assert store.count(ALICE, include_deleted=True) == 2
    assert store.count(ALICE, include_expired=True) == 2
    assert store.count(ALICE, include_deleted=True, include_expired=True) == 3
    assert [h.id for h in store.search(vec(1.0), ALICE)] == [live.id]
    assert {h.id for h in store.search(vec(1.0), ALICE, include_deleted=True, include_expired=True)} == {
        gone.id, old.id, live.id}
    assert [h.id for h in store.keyword_search("fact", ALICE)] == [live.id]
    assert len(store.keyword_search("fact", ALICE, include_deleted=True, include_expired=True)) == 3
    assert [r.id for r in store.get([gone.id], ALICE, include_deleted=False)] == []
    assert [r.id for r in store.get([gone.id], ALICE)] == [gone.id]


def test_search_scores_are_cosine_mapped_best_first(store: SQLiteStore) -> None:
    vectors = rng_vectors(40)
    records = [MemoryRecord(text=f"m{i}", scope=ALICE) for i in range(40)]
    store.apply([Change(record=r, vector=v.tolist()) for r, v in zip(records, vectors, strict=True)])
    query = rng_vectors(1, seed=7)[0]
    hits = store.search(query.tolist(), ALICE, limit=5)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosines = unit @ (query / np.linalg.norm(query))
    best = np.argsort(-cosines)[:5]
    assert [h.id for h in hits] == [records[i].id for i in best]
    assert [h.score for h in hits] == pytest.approx([(1 + cosines[i]) / 2 for i in best], abs=1e-5)
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    opposite = store.search((-vectors[0]).tolist(), ALICE, limit=40)
    assert opposite[-1].id == records[0].id and opposite[-1].score == pytest.approx(0.0, abs=1e-5)


def test_get_vectors_returns_stored_vectors_in_scope(store: SQLiteStore) -> None:
    with_vector = add(store, "x", vector=vec(3.0, 4.0))
    without = MemoryRecord(text="no vector", scope=ALICE)
    store.apply([Change(record=without)])
    assert store.get_vectors([with_vector.id, without.id, "missing"], ALICE) == {with_vector.id: vec(3.0, 4.0)}
    assert store.get_vectors([with_vector.id], BOB) == {}


def test_equal_scores_come_in_insertion_order(store: SQLiteStore) -> None:
    records = [MemoryRecord(text=f"same {i}", scope=ALICE) for i in range(600)]
    store.apply([Change(record=r, vector=vec(1.0, 1.0)) for r in records])
    hits = store.search(vec(1.0, 1.0), ALICE, limit=5)
    assert [h.id for h in hits] == [r.id for r in records[:5]]


def test_search_with_zero_query_and_wrong_dimension(store: SQLiteStore) -> None:
    add(store, "x", vector=vec(1.0))
    assert [h.score for h in store.search([0.0] * DIM, ALICE)] == [pytest.approx(0.5)]
    with pytest.raises(ValidationError, match="dimensions"):
        store.search([1.0, 2.0], ALICE)
    with pytest.raises(ValidationError, match="positive integer"):
        store.search(vec(1.0), ALICE, limit=0)


def test_search_filters_select_rows_before_ranking(store: SQLiteStore) -> None:
    near = add(store, "near", vector=vec(1.0), metadata={"topic": "work"})
    far = add(store, "far", vector=vec(0.0, 1.0), metadata={"topic": "food"})
    assert [h.id for h in store.search(vec(1.0), ALICE, filters={"topic": "food"})] == [far.id]
    assert [h.id for h in store.search(vec(1.0), ALICE, filters={"topic": {"ne": "food"}})] == [near.id]


def test_records_without_vector_are_listed_not_searched(store: SQLiteStore) -> None:
    record = MemoryRecord(text="no vector yet", scope=ALICE)
    store.apply([Change(record=record)])
    assert store.count(ALICE) == 1
    assert store.search(vec(1.0), ALICE) == []
    assert store.keyword_search("vector", ALICE)[0].id == record.id


def test_pagination_returns_every_record_once_despite_concurrent_changes(store: SQLiteStore) -> None:
    records = [add(store, f"memory {i}") for i in range(25)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = store.list_records(ALICE, limit=7, cursor=cursor)
        seen.extend(r.id for r in page.records)
        pages += 1
        if pages == 2:  # changes between pages: new rows, an update, a hard delete
            add(store, "inserted meanwhile")
            store.apply([bump(records[20], text="edited")])
            store.delete([records[0].id], ALICE)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 26
    assert set(seen) >= {r.id for r in records}


def test_invalid_cursor_and_limit(store: SQLiteStore) -> None:
    with pytest.raises(ValidationError, match="cursor"):
        store.list_records(ALICE, cursor="'; DROP TABLE records; --")
    with pytest.raises(ValidationError, match="limit"):
        store.list_records(ALICE, limit=0)


def test_hard_delete_removes_history_and_index(store: SQLiteStore) -> None:
    keep = add(store, "keep this note")
    drop = add(store, "drop this note")
    assert store.delete([drop.id, drop.id, "nope"], ALICE) == 1
    assert store.get([drop.id], ALICE) == []
    assert store.history(drop.id, ALICE) == []
    assert [h.id for h in store.keyword_search("note", ALICE)] == [keep.id]
    assert [h.id for h in store.search(vec(1.0), ALICE)] == [keep.id]
    assert len(store.history(keep.id, ALICE)) == 1


def test_reset_removes_everything_and_keeps_working(store: SQLiteStore) -> None:
    add(store, "a")
    add(store, "b", scope=BOB)
    store.reset()
    assert store.count(ALICE) == store.count(BOB) == 0
    assert store.search(vec(1.0), ALICE) == []
    assert store.keyword_search("a", ALICE) == []
    again = add(store, "after reset")
    assert [h.id for h in store.search(vec(1.0), ALICE)] == [again.id]


def test_apply_is_atomic(store: SQLiteStore) -> None:
    good = MemoryRecord(text="good", scope=ALICE)
    bad = MemoryRecord(text="bad", scope=ALICE)
    with pytest.raises(ValidationError, match="dimensional"):
        store.apply([
            Change(record=good, vector=vec(1.0),
                   history=HistoryEntry(memory_id=good.id, event=HistoryEvent.ADD, new_text="good")),
            Change(record=bad, vector=[1.0, 2.0]),
        ])
    assert store.count(ALICE, include_deleted=True, include_expired=True) == 0
    assert store.history(good.id, ALICE) == []
    assert store.keyword_search("good", ALICE) == []


def test_apply_refuses_moving_a_memory_to_another_scope(store: SQLiteStore) -> None:
    record = add(store, "alice only")
    hijack = record.model_copy(update={"scope": BOB, "text": "bob now"})
    with pytest.raises(IdOwnedByAnotherScope, match="outside this scope"):
        store.apply([Change(record=hijack)])
    with pytest.raises(IdOwnedByAnotherScope):  # as an update of the version it read, too
        store.apply([bump(record, scope=BOB)])
    assert store.get([record.id], ALICE)[0].text == "alice only"
    assert store.get([record.id], BOB) == []


def test_apply_refuses_history_of_another_memory(store: SQLiteStore) -> None:
    record = MemoryRecord(text="x", scope=ALICE)
    with pytest.raises(ValidationError, match="history entry"):
        store.apply([Change(record=record, history=HistoryEntry(memory_id="other", event=HistoryEvent.ADD))])


def test_bad_metadata_is_a_validation_error(store: SQLiteStore) -> None:
    with pytest.raises(ValidationError, match="NaN"):
        add(store, "x", metadata={"score": float("nan")})
    with pytest.raises(ValidationError, match="NaN"):
        add(store, "y", vector=vec(float("nan")))
    assert store.count(ALICE) == 0


def test_invalid_unicode_is_a_validation_error(store: SQLiteStore) -> None:
    with pytest.raises(ValidationError, match="surrogate"):
        add(store, "broken", metadata={"k": "\ud800"})
    with pytest.raises(ValidationError, match="surrogate"):
        store.count(Scope(user_id="\udfff"))
    assert store.count(ALICE) == 0


def test_history_is_oldest_first_and_idempotent(store: SQLiteStore) -> None:
    record = add(store, "v0")
    entries = []
    for i in range(1, 5):
        entry = HistoryEntry(memory_id=record.id, event=HistoryEvent.UPDATE, old_text=f"v{i-1}",
                             new_text=f"v{i}", actor="test", reason=f"step {i}")
        entries.append(entry)
        change = bump(record, text=f"v{i}", history=entry)
        store.apply([change])
        record = change.record
    with pytest.raises(Conflict):  # a retry of the last write is stale: nothing is written
        store.apply([change])
    got = store.history(record.id, ALICE)
    assert [h.new_text for h in got] == ["v0", "v1", "v2", "v3", "v4"]
    assert got[1:] == entries


def test_dimension_is_stored_and_checked(tmp_path: Path) -> None:
    path = str(tmp_path / "d.db")
    s = SQLiteStore(path=path)
    s.open(DIM)
    add(s, "x")
    s.close()
    again = SQLiteStore(path=path)
    with pytest.raises(DimensionMismatch, match=f"holds {DIM}-dimensional"):
        again.open(DIM * 2)
    again.open(DIM)  # the same size is fine
    again.close()


def test_an_empty_store_may_change_dimension(store: SQLiteStore) -> None:
    add(store, "x")
    store.reset()
    store.open(DIM * 2)
    record = MemoryRecord(text="wide", scope=ALICE)
    store.apply([Change(record=record, vector=[1.0] * (DIM * 2))])
    assert [h.id for h in store.search([1.0] * (DIM * 2), ALICE)] == [record.id]


def test_data_persists_across_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "p.db")
    s = SQLiteStore(path=path)
    s.open(DIM)
    record = add(s, "remember me", metadata={"k": "v"})
    s.close()
    s.close()  # safe twice
    again = SQLiteStore(path=path)
    again.open(DIM)
    assert again.get([record.id], ALICE)[0].metadata == {"k": "v"}
    assert again.search(vec(1.0), ALICE)[0].id == record.id
    assert again.keyword_search("remember", ALICE)[0].id == record.id
    assert len(again.history(record.id, ALICE)) == 1
    again.close()


def test_cache_sees_other_instances_writes(tmp_path: Path) -> None:
    path = str(tmp_path / "c.db")
    reader, writer = SQLiteStore(path=path), SQLiteStore(path=path)
    reader.open(DIM)
    writer.open(DIM)
    first = add(writer, "first", vector=vec(1.0))
    assert [h.id for h in reader.search(vec(1.0), ALICE)] == [first.id]  # builds the cache
    second = add(writer, "second", vector=vec(1.0, 0.1))
    assert {h.id for h in reader.search(vec(1.0), ALICE)} == {first.id, second.id}
    writer.apply([bump(first, deleted_at=utcnow())])
    assert [h.id for h in reader.search(vec(1.0), ALICE)] == [second.id]
    writer.apply([bump(second, text="moved", vector=vec(0.0, 1.0))])
    assert reader.search(vec(0.0, 1.0), ALICE)[0].score == pytest.approx(1.0)
    writer.delete([second.id], ALICE)
    assert reader.search(vec(1.0), ALICE) == []
    reader.close()
    writer.close()


def test_cache_follows_hard_deletes_without_rebuilding(tmp_path: Path) -> None:
    path = str(tmp_path / "h.db")
    reader, writer = SQLiteStore(path=path), SQLiteStore(path=path)
    reader.open(DIM)
    vectors = rng_vectors(20, seed=5)
    records = [MemoryRecord(text=f"m{i}", scope=ALICE) for i in range(20)]
    writer.apply([Change(record=r, vector=v.tolist()) for r, v in zip(records, vectors, strict=True)])
    query = rng_vectors(1, seed=6)[0].tolist()
    assert len(reader.search(query, ALICE, limit=100)) == 20
    entry = reader._cache.entry(tuple(ALICE.items()), DIM)
    alive = {r.id for r in records}
    for batch in (records[:3], records[3:9], records[9:10]):  # below, then past the compaction point
        writer.delete([r.id for r in batch], ALICE)
        alive -= {r.id for r in batch}
        hits = reader.search(query, ALICE, limit=100)
        assert {h.id for h in hits} == alive
        uncached = SQLiteStore(path=path, cache_vectors=False)
        assert [(h.id, round(h.score, 6)) for h in hits] == [
            (h.id, round(h.score, 6)) for h in uncached.search(query, ALICE, limit=100)]
        uncached.close()
    assert reader._cache.entry(tuple(ALICE.items()), DIM) is entry  # caught up, not rebuilt
    assert entry.size == len(alive) + 1  # compacted once; the last delete is a dead row
    reader.close()
    writer.close()


def test_uncached_search_gives_the_same_results(tmp_path: Path) -> None:
    path = str(tmp_path / "u.db")
    cached, uncached = SQLiteStore(path=path), SQLiteStore(path=path, cache_vectors=False)
    cached.open(DIM)
    vectors = rng_vectors(30, seed=3)
    cached.apply([Change(record=MemoryRecord(text=f"m{i}", scope=ALICE), vector=v.tolist())
                  for i, v in enumerate(vectors)])
    query = rng_vectors(1, seed=9)[0].tolist()
    assert [(h.id, round(h.score, 6)) for h in cached.search(query, ALICE, limit=7)] == [
        (h.id, round(h.score, 6)) for h in uncached.search(query, ALICE, limit=7)]
    cached.close()
    uncached.close()


def test_closed_store_says_so(tmp_path: Path) -> None:
    s = SQLiteStore(path=str(tmp_path / "x.db"))
    s.open(DIM)
    s.close()
    with pytest.raises(Exception, match="closed"):
        s.count(ALICE)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "v.db")
    s = SQLiteStore(path=path)
    s.open(DIM)
    s.close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(ConfigurationError, match="upgrade memplane"):
        SQLiteStore(path=path).open(DIM)


# --- keyword search ------------------------------------------------------------------------------


def test_keyword_search_ranks_and_maps_scores(store: SQLiteStore) -> None:
    both = add(store, "green tea and green apples")
    one = add(store, "black tea in the morning")
    add(store, "nothing relevant here")
    hits = store.keyword_search("green tea", ALICE)
    assert [h.id for h in hits] == [both.id, one.id]
    assert 1.0 > hits[0].score > hits[1].score > 0.0


def test_keyword_search_folds_case_and_diacritics(store: SQLiteStore) -> None:
    record = add(store, "Ich trinke gern Café in Zürich")
    assert store.keyword_search("cafe zurich", ALICE)[0].id == record.id
    assert store.keyword_search("CAFÉ", ALICE)[0].id == record.id


@pytest.mark.parametrize(("text", "query"), [
    ("我喜欢吃苹果", "苹果"),
    ("我喜欢吃苹果", "果"),
    ("東京に住んでいます", "東京"),
    ("ผมชอบกินข้าว", "กิน"),
    ("서울에 살아요", "서울"),
    ("I love 苹果pie", "pie"),
])
def test_keyword_search_finds_words_in_unspaced_scripts(store: SQLiteStore, text: str, query: str) -> None:
    record = add(store, text)
    add(store, "unrelated english text")
    assert [h.id for h in store.keyword_search(query, ALICE)] == [record.id]


HOSTILE_QUERIES = ['"', '""', "'", "*", "a*", "^", "NEAR(a b)", "a AND", "OR", "NOT tea", "(", ")",
                   "fts_text:tea", "records_fts MATCH 'x'", "\\", "%", "\x00", "tea\"; DROP TABLE records; --",
                   "-tea", "+", "́", "🙂", "", "   ", "a" * 10000]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_keyword_search_treats_fts_syntax_as_text(store: SQLiteStore, query: str) -> None:
    tea = add(store, "tea and not coffee")
    hits = store.keyword_search(query, ALICE)
    assert all(h.id == tea.id for h in hits)
    assert store.count(ALICE) == 1
    if "tea" in query:
        assert [h.id for h in hits] == [tea.id]


@settings(max_examples=200, deadline=None)
@given(query=st.text(max_size=40))
def test_keyword_search_never_fails_on_any_text(query: str) -> None:
    s = SQLiteStore(path=":memory:")
    s.open(DIM)
    try:
        record = add(s, "the quick brown fox " + query)
        add(s, "someone else's " + query, scope=BOB)
        hits = s.keyword_search(query, ALICE)
        assert all(h.id == record.id and 0.0 <= h.score <= 1.0 for h in hits)
    finally:
        s.close()


def test_keyword_search_filters(store: SQLiteStore) -> None:
    work = add(store, "tea at work", metadata={"where": "work"})
    add(store, "tea at home", metadata={"where": "home"})
    assert [h.id for h in store.keyword_search("tea", ALICE, filters={"where": "work"})] == [work.id]


def test_vector_cache_drops_least_recently_used_entries_beyond_budget() -> None:
    from memplane.stores.sqlite.vector_cache import ROW_OVERHEAD_BYTES, ScopeMatrix, VectorCache

    blob = np.ones(DIM, dtype=np.float32).tobytes()

    def filled(cache: VectorCache, name: str, rows: int) -> ScopeMatrix:
        entry = cache.entry((("user_id", name),), DIM)
        entry.upsert([(i, f"{name}{i}", blob, None, None, 1) for i in range(rows)])
        return entry

    probe = VectorCache(max_bytes=1 << 40)
    one = filled(probe, "probe", 100)
    # accounting: arrays at capacity plus the per-row bookkeeping
    capacity = one.matrix.shape[0]
    assert one.nbytes == capacity * (4 * DIM + 8 + 1 + 1 + 8 + 8) + 100 * ROW_OVERHEAD_BYTES

    cache = VectorCache(max_bytes=int(2.5 * one.nbytes))
    a = filled(cache, "a", 10)
    cache.trim((("user_id", "a"),))
    small = a.nbytes
    assert cache.nbytes == small
    a.upsert([(i, f"a{i}", blob, None, None, 2) for i in range(10, 100)])  # a search grew it
    b = filled(cache, "b", 100)
    cache.trim((("user_id", "b"),))
    assert cache.nbytes == small + b.nbytes  # a is re-measured only when used again
    cache.trim((("user_id", "a"),))
    assert cache.nbytes == a.nbytes + b.nbytes > small + b.nbytes
    assert cache.entry((("user_id", "a"),), DIM) is a  # a is now the most recently used
    filled(cache, "c", 100)
    cache.trim((("user_id", "c"),))
    assert (("user_id", "b"),) not in cache  # least recently used goes first
    assert (("user_id", "a"),) in cache and (("user_id", "c"),) in cache
    assert cache.nbytes <= int(2.5 * one.nbytes)

    tiny = VectorCache(max_bytes=1)
    filled(tiny, "big", 10)
    tiny.trim()
    assert len(tiny) == 0 and tiny.nbytes == 0  # one entry over the whole budget is not kept


def test_many_scopes_with_a_small_cache_budget_stay_correct(tmp_path: Path) -> None:
    s = SQLiteStore(path=str(tmp_path / "lru.db"), cache_max_mb=1)
    s.open(DIM)
    owners = {}
    for i in range(30):
        scope = Scope(user_id=f"u{i}")
        owners[scope] = add(s, f"memory of u{i}", scope=scope, vector=vec(1.0, float(i))).id
    for _ in range(2):
        for scope, rid in owners.items():
            assert [h.id for h in s.search(vec(1.0), scope)] == [rid]
    s.close()


def test_unopenable_path_is_a_clear_error(tmp_path: Path) -> None:
    from memplane.errors import MemplaneError

    (tmp_path / "adir").mkdir()
    s = SQLiteStore(path=str(tmp_path / "adir"))
    with pytest.raises(MemplaneError, match="adir"):
        s.open(DIM)
    s.close()


def test_a_file_with_another_layout_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE records (seq INTEGER PRIMARY KEY, id TEXT, text TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(ConfigurationError, match=r"lacks records\.agent_id"):
        SQLiteStore(path=path).open(DIM)


async def test_async_mirrors_run_on_worker_threads(tmp_path: Path) -> None:
    import asyncio

    s = SQLiteStore(path=str(tmp_path / "async.db"))
    await s.aopen(DIM)
    records = [MemoryRecord(text=f"async memory {i}", scope=ALICE) for i in range(20)]
    await asyncio.gather(*(s.aapply([Change(record=r, vector=vec(1.0, float(i)))])
                           for i, r in enumerate(records)))
    assert await s.acount(ALICE) == 20
    hits, keyword = await asyncio.gather(s.asearch(vec(1.0), ALICE, limit=3),
                                         s.akeyword_search("async", ALICE, limit=30))
    assert hits[0].id == records[0].id and len(keyword) == 20
    assert await s.adelete([records[0].id], ALICE) == 1
    await s.aclose()
