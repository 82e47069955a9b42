"""Keyword search in the sqlite store: common words left out, distinct-term IDF scoring."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from memplane.models import Change, HistoryEntry, HistoryEvent, MemoryRecord, Scope
from memplane.stores.sqlite import SQLiteStore
from memplane.stores.sqlite.fts import COMMON_TERM_MIN_ROWS, idf, query_tokens

ALICE = Scope(user_id="alice")
BOB = Scope(user_id="bob")


def fill(store: SQLiteStore, texts: list[str], scope: Scope = ALICE) -> list[MemoryRecord]:
    records = [MemoryRecord(text=t, scope=scope) for t in texts]
    store.apply([
        Change(record=r, vector=[1.0, 0.0, float(i % 7)],
               history=HistoryEntry(memory_id=r.id, event=HistoryEvent.ADD, new_text=r.text))
        for i, r in enumerate(records)
    ])
    return records


@pytest.fixture(params=[True, False], ids=["cached", "uncached"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SQLiteStore:
    s = SQLiteStore(path=str(tmp_path / "k.db"), cache_vectors=request.param)
    s.open(3)
    yield s
    s.close()


def crowd(n: int) -> list[str]:
    """``n`` memories that all say "the user", a few of them about something else too."""
    return [f"the user noted item {i}" for i in range(n)]


def test_a_word_most_of_a_large_scope_holds_is_left_out(store: SQLiteStore) -> None:
    fill(store, crowd(400))
    rare = fill(store, ["the user loves oolong tea"])[0]
    hits = store.keyword_search("what tea does the user love", ALICE, limit=50)
    # "the" and "user" are in every row: only "tea" and "love(s)" can match, and only
    # the one memory holds "tea"
    assert [h.id for h in hits] == [rare.id]
    assert store.keyword_search("the user", ALICE, limit=50) == []


def test_every_word_is_kept_when_the_share_is_one(tmp_path: Path) -> None:
    store = SQLiteStore(path=str(tmp_path / "k.db"), common_term_share=1.0)
    store.open(3)
    fill(store, crowd(400))
    assert len(store.keyword_search("the user", ALICE, limit=500)) == 400


def test_small_scopes_keep_every_word(store: SQLiteStore) -> None:
    # below COMMON_TERM_MIN_ROWS rows a word in every memory still matches
    fill(store, crowd(COMMON_TERM_MIN_ROWS))
    assert len(store.keyword_search("user", ALICE, limit=500)) == COMMON_TERM_MIN_ROWS


def test_commonness_is_measured_in_the_query_scope(store: SQLiteStore) -> None:
    # common in Alice's scope, rare in Bob's: Bob's query still uses it
    fill(store, crowd(400), ALICE)
    only = fill(store, ["user manual arrived", "nothing else"], BOB)[0]
    assert [h.id for h in store.keyword_search("user", BOB)] == [only.id]
    assert store.keyword_search("user", ALICE) == []


def test_score_counts_distinct_terms_not_repeats_or_length(store: SQLiteStore) -> None:
    both = fill(store, ["jazz on a rainy evening with tea and a long book about harbours"])[0]
    repeated = fill(store, ["tea tea tea"])[0]
    single = fill(store, ["tea"])[0]
    fill(store, [f"filler memory number {i}" for i in range(20)])
    hits = store.keyword_search("tea jazz", ALICE)
    assert hits[0].id == both.id  # the only one with both words, though long
    scores = {h.id: h.score for h in hits}
    assert scores[repeated.id] == pytest.approx(scores[single.id])  # repeats add nothing
    # the score is s / (1 + s) of the summed IDFs over the scope (23 rows)
    s = idf(23, 3) + idf(23, 1)
    assert scores[both.id] == pytest.approx(s / (1 + s))


def test_filters_and_visibility_still_apply(store: SQLiteStore) -> None:
    kept, dropped = fill(store, ["tea in Lisbon", "tea in Porto"])
    store.delete([dropped.id], ALICE)
    assert [h.id for h in store.keyword_search("tea", ALICE)] == [kept.id]


def test_idf_is_positive_and_safe_when_counts_disagree() -> None:
    assert idf(1000, 1) > idf(1000, 100) > 0
    assert idf(10, 10) == pytest.approx(1e-6)
    assert idf(5, 9) == pytest.approx(1e-6)  # more matches than counted rows: no math error
    assert math.isfinite(idf(0, 0))


def test_query_tokens_fold_case_and_accents_once() -> None:
    assert query_tokens("The the café CAFE") == ["The", "café"]
    assert query_tokens("東京都") == ["東京", "京都"]
