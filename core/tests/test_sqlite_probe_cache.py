"""The sqlite store reuses its per-word keyword probes (the scope's rows holding a
query word, or "common") while the database is unchanged: an answer read in another
state (a write from another connection or process, a soft delete, a reset) is never
reused, and the cache stays within its bounds."""

from __future__ import annotations

from pathlib import Path

from memplane.models import Change, MemoryRecord, Scope
from memplane.stores.sqlite import SQLiteStore
from memplane.stores.sqlite.keyword_search import ProbeCache

ALICE = Scope(user_id="alice")


def _add(store: SQLiteStore, *texts: str) -> list[MemoryRecord]:
    records = [MemoryRecord(text=t, scope=ALICE) for t in texts]
    store.apply([Change(record=r, vector=[1.0, float(i % 5), 0.5, 0.25]) for i, r in enumerate(records)])
    return records


def _texts(store: SQLiteStore, query: str) -> list[str]:
    return sorted(h.record.text for h in store.keyword_search(query, ALICE, limit=50))


def test_answers_are_never_reused_across_writes_from_another_connection(tmp_path: Path) -> None:
    path = str(tmp_path / "probes.db")
    reader, writer = SQLiteStore({"path": path}), SQLiteStore({"path": path})
    reader.open(4)
    writer.open(4)
    _add(writer, *[f"filler note {i}" for i in range(40)], "the walrus sleeps")
    assert _texts(reader, "walrus ferry") == ["the walrus sleeps"]
    assert _texts(reader, "walrus ferry") == ["the walrus sleeps"]  # from the cache
    # another connection adds a row holding a probed word, and one holding a word the
    # cache knows as absent: both must be found at once
    [ferry] = _add(writer, "a ferry to the walrus colony")
    assert _texts(reader, "walrus ferry") == ["a ferry to the walrus colony", "the walrus sleeps"]
    assert writer.delete([ferry.id], ALICE) == 1
    assert _texts(reader, "walrus ferry") == ["the walrus sleeps"]
    reader.close()
    writer.close()


def test_the_same_answers_as_without_the_cache(tmp_path: Path) -> None:
    path = str(tmp_path / "same.db")
    cached, bare = SQLiteStore({"path": path}), SQLiteStore({"path": path})
    for store in (cached, bare):
        store.open(4)
    _add(cached, *[f"note {i} {'kayak' if i % 3 else 'opera'} {'tea' * (i % 2)}" for i in range(60)])
    queries = ["kayak opera", "opera", "tea kayak", "note 7", "nothing here"]
    for round_ in range(3):
        for query in queries:
            bare._probes.clear()  # every probe read afresh
            mine = [(h.id, h.score) for h in cached.keyword_search(query, ALICE, limit=50)]
            theirs = [(h.id, h.score) for h in bare.keyword_search(query, ALICE, limit=50)]
            assert mine == theirs, (round_, query)
        _add(cached, f"round {round_} kayak opera")  # a new state between rounds
    cached.close()
    bare.close()


def test_a_reset_is_seen(tmp_path: Path) -> None:
    store = SQLiteStore({"path": str(tmp_path / "reset.db")})
    store.open(4)
    _add(store, "lantern by the door", *[f"filler {i}" for i in range(30)])
    assert _texts(store, "lantern") == ["lantern by the door"]
    store.reset()
    store.open(4)
    assert _texts(store, "lantern") == []
    store.close()


def test_the_cache_keeps_its_bounds() -> None:
    cache = ProbeCache(entries=2, max_rows=3)
    state = (5, 0)
    keys = [((("user_id", "a"),), word, 10) for word in ("x", "y", "z")]
    for i, key in enumerate(keys):
        cache.put(key, state, frozenset({i}))
    assert cache.get(keys[0], state) is None  # least recently used, dropped
    assert cache.get(keys[2], state) == (frozenset({2}),)
    assert cache.get(keys[2], (6, 0)) is None and cache.get(keys[2], (5, 1)) is None
    cache.put(keys[1], state, frozenset(range(4)))  # more rows than kept: not stored
    assert cache.get(keys[1], state) == (frozenset({1}),)  # the older answer stays
    cache.put(keys[0], state, None)  # "common" is an answer too
    assert cache.get(keys[0], state) == (None,)
