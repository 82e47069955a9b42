"""Listing under filters and next to large other scopes, and keyword-search ranking."""

from __future__ import annotations

from typing import ClassVar

from memplane.filters import parse_filter
from memplane.providers.base import VectorStore
from memplane_conformance.contract import skip_unless_capable
from memplane_conformance.data import DIM, add_change, basis, random_unit, record
from memplane_conformance.guard import suite_skip
from memplane_conformance.store_common import ALICE, BOB, fill, ids_of, page_through

#: how many records ``Memory.delete_all`` asks for per page (core's DELETE_ALL_BATCH).
DELETE_ALL_PAGE = 500


class StoreListingTests:
    """Mixed into :class:`~memplane_conformance.VectorStoreContract`."""

    _memplane_suite_class: ClassVar[bool] = True

    def test_filtered_listing_pages_through_every_match(self, store: VectorStore) -> None:
        """With a filter, following ``next_cursor`` yields every matching record once,
        however the matches are spread among non-matching ones, then ``None``.

        Troubleshooting: apply the filter in the query that builds the page (not to a
        page fetched without it), and decide ``next_cursor`` from the filtered rows: a
        short page after filtering is not the end.
        """
        if "eq" not in store.filter_operators:
            suite_skip(f"vector store {store.name!r} does not declare the filter operator 'eq'")
        recs = [record(f"r{i}", ALICE, minutes=i, metadata={"t": "x" if i % 7 in (0, 3) else "y"})
                for i in range(40)]
        store.apply([add_change(r, random_unit(i)) for i, r in enumerate(recs)])
        fill(store, BOB, 5, prefix="bob", metadata={"t": "x"})
        want = sorted(r.id for r in recs if r.metadata["t"] == "x")
        for page_size in (1, 3, 10):
            seen = page_through(store, ALICE, page_size, filters=parse_filter({"t": "x"}))
            assert len(seen) == len(set(seen)), f"a record appeared on two pages of {page_size}"
            assert sorted(seen) == want, (
                f"filtered listing by {page_size} returned {len(seen)} of {len(want)}")

    def test_listing_a_scope_behind_many_other_records(self, store: VectorStore) -> None:
        """``list_records`` with the arguments ``Memory.delete_all`` uses (a 500-record
        page, ``include_expired=True``) returns the scope's records even when 600 records
        of another scope sort first; ``delete_all`` then soft-deletes exactly those.

        Troubleshooting: apply the scope in the listing query under every combination
        of ``include_deleted``/``include_expired``, before the limit; a global page
        filtered afterwards is empty here and ``delete_all`` silently deletes nothing.
        """
        bulk = [record(f"bob {i}", BOB, minutes=i) for i in range(600)]
        for start in range(0, len(bulk), 200):
            store.apply([add_change(r, random_unit(start + j))
                         for j, r in enumerate(bulk[start:start + 200])])
        mine = fill(store, ALICE, 3, prefix="alice", start=1000)
        want = sorted(r.id for r in mine)
        for deleted in (False, True):
            for expired in (False, True):
                page = store.list_records(ALICE, limit=DELETE_ALL_PAGE, include_deleted=deleted,
                                          include_expired=expired)
                assert sorted(ids_of(page.records)) == want, (deleted, expired)
                assert page.next_cursor is None
        from memplane.embedders.hashing import HashingEmbedder
        from memplane.llms.scripted import ScriptedLLM
        from memplane.memory import Memory

        memory = Memory(llm=ScriptedLLM(), embedder=HashingEmbedder({"dimension": DIM}),
                        vector_store=store)
        assert memory.delete_all(user_id="alice") == 3
        assert store.count(ALICE) == 0 and store.count(ALICE, include_deleted=True) == 3
        assert store.count(BOB) == 600

    def test_keyword_search_ranks_by_relevance(self, store: VectorStore) -> None:
        """Keyword hits come best first: a record holding every query word outranks one
        holding a single word, records holding none are not hits, and scores differ
        with relevance (a constant score is no ranking).

        Troubleshooting: return the backend's relevance (BM25, ts_rank...) normalised
        to [0, 1] and sort descending; do not list the scope with a fixed score.
        """
        skip_unless_capable(store, "keyword_search")
        texts = ["the walrus sings opera", "a walrus naps on the ice",
                 "the opera house is closed", "walrus walrus opera singing walrus opera",
                 "penguins prefer jazz", "tea with milk", "the weather is mild", "bicycles"]
        recs = [record(t, ALICE, minutes=i) for i, t in enumerate(texts)]
        store.apply([add_change(r, basis(i)) for i, r in enumerate(recs)])
        fill(store, BOB, 3, prefix="walrus opera")
        hits = store.keyword_search("walrus opera", ALICE, limit=10)
        got = ids_of(hits)
        both = {recs[0].id, recs[3].id}
        one = {recs[1].id, recs[2].id}
        assert set(got) == both | one, f"hits {[h.record.text for h in hits]}"
        assert set(got[:2]) == both, f"order {[h.record.text for h in hits]}"
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True), f"not best first: {scores}"
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert min(h.score for h in hits if h.id in both) > max(
            h.score for h in hits if h.id in one), f"scores do not follow relevance: {scores}"
        assert store.keyword_search("zeppelin", ALICE, limit=10) == []

