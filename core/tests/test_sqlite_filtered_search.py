"""Filtered vector search of the sqlite store returns exactly the best ``limit`` rows that
pass the filter, whether it checks the filter on the best-scored rows only (filters most
rows pass) or scans the scope in SQL (selective filters): the ranking of an unfiltered
search, filtered with the reference ``evaluate``, is the oracle."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from memplane.filters import evaluate, parse_filter
from memplane.models import Change, MemoryRecord, Scope, SearchHit, utcnow
from memplane.stores.sqlite import SQLiteStore
from memplane.stores.sqlite.vector_search import _FIRST_ROUND_MIN, _SCAN_SHARE

DIM = 8
SCOPE = Scope(user_id="ranked")
OTHER = Scope(user_id="someone-else")
# enough rows that the first rounds stay below the scan threshold, so both strategies run
ROWS = 3 * _SCAN_SHARE * _FIRST_ROUND_MIN

# few distinct directions: many rows share a vector, so ties at the cut are common
_DRAW = random.Random(5)
DIRECTIONS = [[float(_DRAW.randint(-2, 2)) for _ in range(DIM)] for _ in range(23)]
assert len({tuple(d) for d in DIRECTIONS}) == len(DIRECTIONS) and all(any(d) for d in DIRECTIONS)


def _metadata(i: int) -> dict[str, Any]:
    return {"topic": ["food", "travel", "work", "misc"][i % 4], "stars": i % 5,
            "rare": i % 500 == 7, "tags": ["even"] if i % 2 == 0 else ["odd"]}


def _record(i: int, scope: Scope) -> MemoryRecord:
    now = utcnow()
    return MemoryRecord(
        text=f"memory {i}", scope=scope, metadata=_metadata(i),
        deleted_at=now if i % 13 == 0 else None,
        expires_at=now - timedelta(days=1) if i % 17 == 0 else None,
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    path: Path = tmp_path_factory.mktemp("filtered") / "search.db"
    s = SQLiteStore(path=str(path))
    s.open(DIM)
    changes = [Change(record=_record(i, SCOPE), vector=DIRECTIONS[i % len(DIRECTIONS)])
               for i in range(ROWS)]
    # a second tenant whose rows would win every ranking if scopes leaked
    changes += [Change(record=_record(i, OTHER), vector=DIRECTIONS[0]) for i in range(300)]
    s.apply(changes)
    s.delete([changes[5].record.id, changes[6].record.id], SCOPE)  # hard deletes: dead cache rows
    yield s
    s.close()


# (filter, share of rows that pass): broad ones are settled among the best rows, narrow
# ones fall back to scanning the scope
FILTERS: list[dict[str, Any]] = [
    {"topic": "food"},                                # a quarter
    {"stars": {"gte": 1}},                            # most
    {"NOT": {"topic": "food"}},                       # most
    {"tags": {"contains": "even"}},                   # half
    {"rare": True},                                   # a handful
    {"topic": "nowhere"},                             # none
    {"OR": [{"rare": True}, {"stars": 3}]},           # a fifth
    {"stars": 3},                                     # a fifth
    {"topic": "food", "stars": 2},                    # a twentieth
]


_RANKINGS: dict[tuple[Any, ...], list[SearchHit]] = {}


def _oracle(store: SQLiteStore, query: list[float], spec: dict[str, Any], limit: int,
            flags: dict[str, bool], fresh: bool = False) -> list[SearchHit]:
    key = (tuple(query), tuple(sorted(flags.items())))
    if fresh or key not in _RANKINGS:
        _RANKINGS[key] = store.search(query, SCOPE, limit=ROWS, **flags)
    everything = _RANKINGS[key]
    tree = parse_filter(spec)
    return [h for h in everything if evaluate(tree, h.record)][:limit]


@pytest.mark.parametrize("spec", FILTERS, ids=[str(f) for f in FILTERS])
@pytest.mark.parametrize("limit", [1, 10, 37, 300])
@pytest.mark.parametrize("flags", [
    {},
    {"include_deleted": True},
    {"include_deleted": True, "include_expired": True},
], ids=["visible", "with-deleted", "with-deleted-and-expired"])
def test_filtered_search_is_the_filtered_ranking(store: SQLiteStore, spec: dict[str, Any],
                                                 limit: int, flags: dict[str, bool]) -> None:
    for query in (DIRECTIONS[0], DIRECTIONS[7], [1.0] * DIM):
        hits = store.search(query, SCOPE, limit=limit, filters=spec, **flags)
        expected = _oracle(store, query, spec, limit, flags)
        assert [h.id for h in hits] == [h.id for h in expected]
        assert [h.score for h in hits] == pytest.approx([h.score for h in expected], abs=1e-6)
        assert all(h.record.scope == SCOPE for h in hits)


def test_filtered_search_sees_writes_made_since_the_cache_was_built(store: SQLiteStore) -> None:
    query = DIRECTIONS[3]
    before = store.search(query, SCOPE, limit=5, filters={"topic": "food"})
    assert len(before) == 5
    # retag the best food row: the next filtered search must drop it
    best = before[0].record
    retagged = best.model_copy(update={"metadata": {**best.metadata, "topic": "gone"},
                                       "version": best.version + 1})
    store.apply([Change(record=retagged, expected_version=best.version)])
    after = store.search(query, SCOPE, limit=5, filters={"topic": "food"})
    assert best.id not in {h.id for h in after}
    assert [h.id for h in after] == [h.id for h in _oracle(store, query, {"topic": "food"}, 5, {},
                                                                   fresh=True)]
    restored = best.model_copy(update={"version": retagged.version + 1})
    store.apply([Change(record=restored, expected_version=retagged.version)])  # for the other tests


def _statements(store: SQLiteStore, spec: dict[str, Any], limit: int) -> list[str]:
    seen: list[str] = []
    with store._db.connections.use() as conn:  # this thread's connection runs the search
        conn.set_trace_callback(seen.append)
        try:
            store.search(DIRECTIONS[1], SCOPE, limit=limit, filters=spec)
        finally:
            conn.set_trace_callback(None)
    return [s for s in seen if s.startswith("SELECT r.seq FROM records r")]


def test_a_broad_filter_is_checked_on_the_best_rows_and_a_narrow_one_scans(store: SQLiteStore) -> None:
    broad = _statements(store, {"stars": {"gte": 1}}, 10)
    assert broad and all("r.seq IN (" in s for s in broad)  # no scan of the scope
    narrow = _statements(store, {"topic": "nowhere"}, 10)
    assert any("r.seq IN (" not in s for s in narrow)  # the rounds gave up: one scan


def test_all_rows_tied_are_settled_in_one_round(tmp_path: Path) -> None:
    """Every row ties with the worst of the first round, so that round checks them all."""
    rows = _SCAN_SHARE * _FIRST_ROUND_MIN + 100
    s = SQLiteStore(path=str(tmp_path / "tied.db"))
    s.open(DIM)
    s.apply([Change(record=MemoryRecord(text=f"m {i}", scope=SCOPE, metadata={"n": i}),
                    vector=DIRECTIONS[2]) for i in range(rows)])
    try:
        every = s.search(DIRECTIONS[2], SCOPE, limit=rows)
        assert [h.record.metadata["n"] for h in every] == list(range(rows))  # insertion order
        picked = s.search(DIRECTIONS[2], SCOPE, limit=10, filters={"n": {"in": [rows - 1, 3, 2000]}})
        assert [h.record.metadata["n"] for h in picked] == [3, 2000, rows - 1]
        assert s.search(DIRECTIONS[2], SCOPE, limit=10, filters={"n": -1}) == []
    finally:
        s.close()
