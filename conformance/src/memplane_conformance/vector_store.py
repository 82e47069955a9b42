"""``VectorStoreContract``: the behaviour every ``memplane.vector_stores`` provider owes.

Subclass it and supply one fixture::

    import pytest
    from memplane_conformance import VectorStoreContract
    from my_package.store import MyStore

    class TestMyStore(VectorStoreContract):
        @pytest.fixture
        def store_factory(self, tmp_path):
            made = []
            def make():
                store = MyStore({"path": str(tmp_path / f"db{len(made)}")})
                made.append(store)
                return store            # fresh, empty, not yet opened
            yield make
            for store in made:          # drop remote collections etc. here
                store.close()

Optional fixture ``reopen_store``: a callable(store) -> a new instance on the same
data; the default closes nothing and builds ``type(store)(store.config)``, so a
``persistent`` store must find its data again from its config alone.

Capabilities decide what else runs: ``keyword_search``, ``persistent``,
``atomic_apply``, ``concurrent_writers``, ``candidate_search``; ``filter_operators`` decides whether each
operator is checked against :func:`memplane.filters.evaluate` or must raise
:class:`~memplane.errors.UnsupportedFilter`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memplane.errors import (
    Conflict,
    DimensionMismatch,
    MemplaneError,
    UnsupportedFilter,
    ValidationError,
)
from memplane.filters import LOGICAL, OPERATORS, evaluate, operators_used, parse_filter
from memplane.models import Change, HistoryEvent, MemoryRecord, Scope, utcnow
from memplane.providers.base import VectorStore
from memplane_conformance.contract import ContractBase, async_native_probe, skip_unless_capable
from memplane_conformance.data import (
    DIM,
    EPOCH,
    HOSTILE_IDS,
    add_change,
    basis,
    random_unit,
    record,
    soft_delete_change,
    update_change,
)
from memplane_conformance.guard import note_extension, suite_skip
from memplane_conformance.parts import optional_fixture
from memplane_conformance.store_candidates import StoreCandidateTests
from memplane_conformance.store_capabilities import StoreCapabilityTests
from memplane_conformance.store_common import new_store
from memplane_conformance.store_filters import StoreFilterTests
from memplane_conformance.store_identity import StoreIdentityContract
from memplane_conformance.store_listing import StoreListingTests
from memplane_conformance.store_scope import StoreScopeTests
from memplane_conformance.store_v2 import StoreContractV2

#: ids one edit apart (case, prefix, wildcard, accent, spacing, quoting): a store that
#: compares scope ids anything but exactly lets these reach each other.
NEAR_MISSES = ("u", "U", "u1", "u%", "%", "u_", "_", "\u00fc", "u\u0308", "u ", " u", "u'",
               "u\\", "u*", "*")
_SCOPE_IDS = st.one_of(
    st.none(),
    st.sampled_from(NEAR_MISSES),
    st.sampled_from(HOSTILE_IDS[:-1]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12),
)
_SCOPES = st.builds(Scope, user_id=_SCOPE_IDS, agent_id=_SCOPE_IDS, run_id=_SCOPE_IDS).filter(
    lambda s: not s.is_empty
)

ALICE = Scope(user_id="alice")
#: the async hooks a store declaring ``async_native`` implements itself, with their sync twins
ASYNC_HOOKS = {"_aapply": "_apply", "_aget": "_get", "_asearch": "_search", "_acount": "_count",
               "_alist_records": "_list_records"}
BOB = Scope(user_id="bob")

#: one filter per operator and logical node, over the FILTER_DATA records below.
FILTER_CASES: dict[str, dict[str, Any]] = {
    "eq": {"topic": "food"},
    "eq_bool": {"vegan": {"eq": True}},
    "ne": {"topic": {"ne": "food"}},
    "in": {"topic": {"in": ["food", "travel"]}},
    "nin": {"topic": {"nin": ["food", "travel"]}},
    "gt": {"stars": {"gt": 3}},
    "gte": {"stars": {"gte": 3}},
    "lt": {"stars": {"lt": 3}},
    "lte": {"stars": {"lte": 3}},
    "gt_float": {"weight": {"gt": 1.5}},
    "lt_string": {"city": {"lt": "M"}},
    "contains": {"tags": {"contains": "red"}},
    "exists": {"stars": {"exists": True}},
    "not_exists": {"stars": {"exists": False}},
    "record_field": {"created_at": {"gte": (EPOCH + timedelta(minutes=3)).isoformat()}},
    "attributed_to": {"attributed_to": "assistant"},
    "AND": {"AND": [{"topic": "food"}, {"stars": {"gte": 3}}]},
    "OR": {"OR": [{"topic": "travel"}, {"stars": {"lt": 2}}]},
    "NOT": {"NOT": {"topic": "food"}},
    "nested": {"OR": [{"AND": [{"topic": "food"}, {"NOT": {"vegan": True}}]},
                      {"tags": {"contains": "blue"}}]},
}

FILTER_DATA: list[dict[str, Any]] = [
    {"topic": "food", "stars": 5, "vegan": True, "tags": ["red", "green"], "city": "Lyon",
     "weight": 1.0},
    {"topic": "food", "stars": 2, "vegan": False, "tags": ["blue"], "city": "Paris"},
    {"topic": "travel", "stars": 3, "tags": ["red"], "city": "Berlin", "weight": 2.5},
    {"topic": "work", "stars": 1, "vegan": True, "city": "Zurich", "weight": 1.5},
    {"topic": "work", "tags": [], "city": "Amsterdam"},
    {"stars": 4, "tags": ["green", "blue"], "weight": 3.0},
    {"topic": "food", "stars": 3, "tags": ["redish"], "vegan": False},
    {"topic": "Food", "stars": 10, "city": "madrid"},
]


def _ids(records: Any) -> list[str]:
    return [getattr(r, "record", r).id for r in records]


class VectorStoreContract(StoreIdentityContract, StoreScopeTests, StoreListingTests, StoreFilterTests,
                          StoreCapabilityTests, StoreCandidateTests, StoreContractV2, ContractBase):
    """The vector-store contract. Needs the ``store_factory`` fixture."""

    _memplane_suite_class: ClassVar[bool] = True

    # fixtures ------------------------------------------------------------------
    @pytest.fixture
    def memplane_reopen(self, request: pytest.FixtureRequest) -> Callable[[VectorStore], VectorStore]:
        """The author's ``reopen_store`` fixture (class, module or conftest level), or
        the default: a second instance built from the same config."""
        custom = optional_fixture(request, "reopen_store")
        if custom is not None:
            note_extension("reopen_store", getattr(custom, "__qualname__", repr(custom)))
            return custom  # type: ignore[no-any-return]
        return lambda store: type(store)(store.config)

    @pytest.fixture
    def memplane_new_store(
        self, store_factory: Callable[[], VectorStore]
    ) -> Iterator[Callable[..., VectorStore]]:
        """Fresh stores opened at ``dimension``; closed again at teardown."""
        made: list[VectorStore] = []

        def make(dimension: int = DIM) -> VectorStore:
            store = new_store(store_factory, dimension)
            assert isinstance(store, VectorStore), (
                f"store_factory returned {type(store).__name__}, not a VectorStore"
            )
            store.open(dimension)
            made.append(store)
            return store

        yield make
        for store in made:
            with contextlib.suppress(Exception):
                store.close()

    @pytest.fixture
    def store(self, memplane_new_store: Callable[..., VectorStore]) -> VectorStore:
        return memplane_new_store()

    def _fill(self, store: VectorStore, scope: Scope, n: int, *, prefix: str = "fact") -> list[MemoryRecord]:
        records = [record(f"{prefix} {i}", scope, minutes=i) for i in range(n)]
        store.apply([add_change(r, random_unit(i)) for i, r in enumerate(records)])
        return records

    # basics --------------------------------------------------------------------
    def test_new_store_is_empty(self, store: VectorStore) -> None:
        """A store from the factory holds nothing in any scope.

        Troubleshooting: make ``store_factory`` point each instance at new storage (a new
        file, collection or tenant) instead of reusing one between tests.
        """
        assert store.count(ALICE) == 0
        assert store.list_records(ALICE).records == []
        assert store.search(basis(0), ALICE) == []

    def test_apply_then_get_round_trips_every_field(self, store: VectorStore) -> None:
        """Every field of a record comes back from ``get`` as it was written.

        Troubleshooting: check the (de)serialisation of metadata (nested values, bools vs
        ints), timezone-aware datetimes, ``source`` and ``attributed_to``.
        """
        rec = record(
            "likes green tea",
            Scope(user_id="alice", agent_id="coach", run_id="r1"),
            metadata={"topic": "drink", "n": 3, "ratio": 0.5, "ok": True, "tags": ["a", "b"],
                      "nested": {"k": "v"}},
            observed_at=EPOCH - timedelta(days=1),
            expires_at=utcnow() + timedelta(days=365),
            source=[{"role": "user", "content": "I like green tea"}],
            attributed_to="user",
        )
        store.apply([add_change(rec, basis(1))])
        [got] = store.get([rec.id], ALICE)
        assert got.model_dump() == rec.model_dump()

    def test_apply_twice_is_idempotent(self, store: VectorStore) -> None:
        """Applying the same create again is a Conflict and leaves one record, not two.

        Troubleshooting: ``expected_version=None`` creates; an id that exists already
        is refused with ``memplane.errors.Conflict`` (contract v2), never inserted twice.
        """
        rec = record("one", ALICE)
        store.apply([add_change(rec, basis(0))])
        with pytest.raises(Conflict):
            store.apply([add_change(rec, basis(0))])
        assert store.count(ALICE) == 1
        assert _ids(store.list_records(ALICE).records) == [rec.id]
        assert len(store.search(basis(0), ALICE, limit=10)) == 1

    def test_upsert_replaces_text_and_keeps_vector_when_none(self, store: VectorStore) -> None:
        """An upsert replaces the record; ``vector=None`` keeps the stored vector.

        Troubleshooting: on ``Change.vector is None`` update the record's fields only;
        do not write a zero or empty vector.
        """
        rec = record("prefers Python", ALICE)
        store.apply([add_change(rec, basis(2))])
        store.apply([update_change(rec, "prefers TypeScript", None)])
        [got] = store.get([rec.id], ALICE)
        assert got.text == "prefers TypeScript"
        assert got.updated_at > rec.updated_at
        [hit] = store.search(basis(2), ALICE, limit=1)
        assert hit.id == rec.id and hit.score == pytest.approx(1.0, abs=1e-3)

    def test_upsert_with_new_vector_moves_the_record(self, store: VectorStore) -> None:
        """A change with a vector replaces the stored vector.

        Troubleshooting: on upsert, write the new vector instead of keeping the first one.
        """
        rec = record("moves", ALICE)
        store.apply([add_change(rec, basis(0))])
        store.apply([update_change(rec, "moved", basis(3))])
        [hit] = store.search(basis(3), ALICE, limit=1)
        assert hit.id == rec.id and hit.score == pytest.approx(1.0, abs=1e-3)

    def test_get_skips_missing_ids_and_other_scopes(self, store: VectorStore) -> None:
        """``get`` returns only ids that exist in the scope, ignoring the rest.

        Troubleshooting: filter ``get`` by scope in the query itself, and return an
        empty list (not an error) for unknown ids.
        """
        a = self._fill(store, ALICE, 2)
        b = self._fill(store, BOB, 1, prefix="bob")
        got = store.get([a[0].id, "no-such-id", b[0].id], ALICE)
        assert _ids(got) == [a[0].id]
        assert store.get([], ALICE) == []

    def test_partial_scope_matching(self, store: VectorStore) -> None:
        """A query scope matches records whose ids equal every id the query sets.

        Troubleshooting: compare only the scope fields the query sets; an unset query
        field matches anything, but a record lacking a field the query sets is no match.
        """
        both = record("with agent", Scope(user_id="u", agent_id="a"))
        user_only = record("user only", Scope(user_id="u"))
        other_agent = record("other agent", Scope(user_id="u", agent_id="b"))
        agent_only = record("agent only", Scope(agent_id="a"))
        store.apply([add_change(r, random_unit(i)) for i, r in
                     enumerate([both, user_only, other_agent, agent_only])])
        assert store.count(Scope(user_id="u")) == 3
        assert set(_ids(store.list_records(Scope(user_id="u", agent_id="a")).records)) == {both.id}
        assert set(_ids(store.list_records(Scope(agent_id="a")).records)) == {both.id, agent_only.id}
        assert store.count(Scope(run_id="u")) == 0

    # listing -------------------------------------------------------------------
    @pytest.mark.parametrize("page_size", [1, 4, 7, 100])
    def test_list_records_pages_return_every_record_exactly_once(
        self, store: VectorStore, page_size: int
    ) -> None:
        """Following ``next_cursor`` yields each record once, then ``None``.

        Troubleshooting: page by a stable, unique key (e.g. ``(created_at, id)``) and
        encode the last key in the cursor; offsets repeat or skip records.
        """
        made = self._fill(store, ALICE, 23)
        # records with identical timestamps are the usual way cursors go wrong
        same_time = [record(f"tie {i}", ALICE, minutes=5) for i in range(6)]
        store.apply([add_change(r, random_unit(100 + i)) for i, r in enumerate(same_time)])
        self._fill(store, BOB, 5, prefix="bob")
        seen: list[str] = []
        cursor: str | None = None
        for _ in range(200):
            page = store.list_records(ALICE, limit=page_size, cursor=cursor)
            assert len(page.records) <= page_size
            seen.extend(_ids(page.records))
            cursor = page.next_cursor
            if cursor is None:
                break
        assert cursor is None, "pagination never ended"
        assert sorted(seen) == sorted(r.id for r in made + same_time)
        assert len(seen) == len(set(seen)), "a record appeared on two pages"

    def test_list_records_survives_inserts_between_pages(self, store: VectorStore) -> None:
        """Records present when listing starts appear exactly once even when new ones
        are inserted between pages.

        Troubleshooting: a cursor must be a position in a stable order (keyset), not an
        offset that shifts when rows are inserted.
        """
        made = self._fill(store, ALICE, 12)
        seen: list[str] = []
        page = store.list_records(ALICE, limit=5)
        seen.extend(_ids(page.records))
        extra = 0
        while page.next_cursor is not None:
            new = [record(f"late {extra}-{j}", ALICE, minutes=j) for j in range(2)]
            extra += 1
            store.apply([add_change(r, random_unit(500 + extra * 10 + j)) for j, r in enumerate(new)])
            page = store.list_records(ALICE, limit=5, cursor=page.next_cursor)
            seen.extend(_ids(page.records))
            assert extra < 50, "pagination never ended"
        assert len(seen) == len(set(seen)), "a record appeared on two pages"
        assert {r.id for r in made} <= set(seen)

    def test_count_matches_listing(self, store: VectorStore) -> None:
        """``count`` equals the number of records listing returns for the same scope.

        Troubleshooting: apply the same scope, deletion and expiry conditions in
        ``count`` as in ``list_records``.
        """
        self._fill(store, ALICE, 9)
        self._fill(store, BOB, 4, prefix="bob")
        assert store.count(ALICE) == 9 == len(store.list_records(ALICE, limit=100).records)
        assert store.count(BOB) == 4

    # deletion, expiry, history -------------------------------------------------
    def test_soft_deleted_records_are_hidden_unless_asked(self, store: VectorStore) -> None:
        """A record with ``deleted_at`` set is hidden from list/count/search by default.

        Troubleshooting: honour ``include_deleted`` in every read; ``get`` defaults to
        ``include_deleted=True`` so a deleted memory can be restored.
        """
        keep, gone = self._fill(store, ALICE, 2)
        store.apply([soft_delete_change(gone)])
        assert _ids(store.list_records(ALICE).records) == [keep.id]
        assert store.count(ALICE) == 1
        assert store.count(ALICE, include_deleted=True) == 2
        assert gone.id not in _ids(store.search(random_unit(1), ALICE))
        assert gone.id in _ids(store.search(random_unit(1), ALICE, include_deleted=True))
        [got] = store.get([gone.id], ALICE)
        assert got.deleted_at is not None
        assert store.get([gone.id], ALICE, include_deleted=False) == []

    def test_expired_records_are_hidden_unless_asked(self, store: VectorStore) -> None:
        """A record past ``expires_at`` is hidden from list/count/search by default.

        Troubleshooting: compare ``expires_at`` with the current UTC time at read time.
        """
        live = record("live", ALICE, expires_at=utcnow() + timedelta(days=1))
        dead = record("dead", ALICE, expires_at=utcnow() - timedelta(seconds=1))
        store.apply([add_change(live, basis(0)), add_change(dead, basis(0))])
        assert _ids(store.list_records(ALICE).records) == [live.id]
        assert store.count(ALICE) == 1
        assert store.count(ALICE, include_expired=True) == 2
        assert _ids(store.search(basis(0), ALICE)) == [live.id]
        assert len(store.search(basis(0), ALICE, include_expired=True)) == 2

    def test_delete_by_id_removes_record_and_history(self, store: VectorStore) -> None:
        """``delete`` hard-deletes the ids in the scope and returns how many went.

        Troubleshooting: delete the history rows too, and count only rows that existed
        in the scope.
        """
        a, b, c = self._fill(store, ALICE, 3)
        assert store.delete([a.id, b.id, "no-such-id"], ALICE) == 2
        assert _ids(store.list_records(ALICE, include_deleted=True).records) == [c.id]
        assert store.get([a.id], ALICE) == []
        assert store.history(a.id, ALICE) == []
        assert store.delete([a.id], ALICE) == 0

    def test_delete_by_scope_leaves_other_scopes(self, store: VectorStore) -> None:
        """Deleting every id of one scope (what ``delete_all`` does) leaves the others,
        and deleting another scope's ids through this scope removes nothing.

        Troubleshooting: add the scope condition to the delete statement itself.
        """
        a = self._fill(store, ALICE, 4)
        b = self._fill(store, BOB, 3, prefix="bob")
        assert store.delete([r.id for r in b], ALICE) == 0
        assert store.count(BOB) == 3
        ids = _ids(store.list_records(ALICE, include_deleted=True, include_expired=True).records)
        assert store.delete(ids, ALICE) == 4
        assert store.count(ALICE, include_deleted=True, include_expired=True) == 0
        assert sorted(_ids(store.list_records(BOB).records)) == sorted(r.id for r in b)
        assert a  # alice's records existed

    def test_history_is_kept_oldest_first(self, store: VectorStore) -> None:
        """``history`` lists ADD, UPDATE, DELETE entries of one memory, oldest first,
        with old and new texts.

        Troubleshooting: append a history row for every change that carries one, in the
        same transaction, and order by time.
        """
        rec = record("likes tea", ALICE)
        store.apply([add_change(rec, basis(0))])
        upd = update_change(rec, "likes coffee", basis(1))
        store.apply([upd])
        store.apply([soft_delete_change(upd.record)])
        entries = store.history(rec.id, ALICE)
        assert [e.event for e in entries] == [HistoryEvent.ADD, HistoryEvent.UPDATE,
                                              HistoryEvent.DELETE]
        assert entries[0].new_text == "likes tea"
        assert (entries[1].old_text, entries[1].new_text) == ("likes tea", "likes coffee")
        assert all(e.memory_id == rec.id for e in entries)
        assert store.history(rec.id, BOB) == []

    def test_reset_empties_every_scope(self, store: VectorStore) -> None:
        """``reset`` removes every record and history entry of every scope.

        Troubleshooting: drop or truncate all collections/tables the store uses, and
        leave the store usable (open) afterwards.
        """
        a = self._fill(store, ALICE, 2)
        self._fill(store, BOB, 2, prefix="bob")
        store.reset()
        assert store.count(ALICE) == 0 and store.count(BOB) == 0
        assert store.history(a[0].id, ALICE) == []
        self._fill(store, ALICE, 1)
        assert store.count(ALICE) == 1

    # search --------------------------------------------------------------------
    def test_search_orders_by_similarity_with_scores_in_range(self, store: VectorStore) -> None:
        """Hits come best first with score = (1 + cosine) / 2 in [0, 1]; ``limit`` holds.

        Troubleshooting: convert the backend's distance to cosine similarity, then map
        it to [0, 1]; sort descending.
        """
        same = record("same", ALICE)
        near = record("near", ALICE)
        ortho = record("orthogonal", ALICE)
        opposite = record("opposite", ALICE)
        q = basis(0)
        near_vec = [0.8, 0.6] + [0.0] * (DIM - 2)
        store.apply([
            add_change(opposite, [-x for x in q]),
            add_change(ortho, basis(1)),
            add_change(near, near_vec),
            add_change(same, q),
        ])
        hits = store.search(q, ALICE, limit=10)
        assert _ids(hits) == [same.id, near.id, ortho.id, opposite.id]
        scores = [h.score for h in hits]
        assert scores == pytest.approx([1.0, 0.9, 0.5, 0.0], abs=1e-3)
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert _ids(store.search(q, ALICE, limit=2)) == [same.id, near.id]

    def test_search_is_scale_invariant(self, store: VectorStore) -> None:
        """Similarity is cosine: a longer vector in the same direction scores the same.

        Troubleshooting: normalise vectors (or use a cosine metric), not L2 or raw dot.
        """
        rec = record("long vector", ALICE)
        store.apply([add_change(rec, [5.0 * x for x in basis(4)])])
        [hit] = store.search([0.1 * x for x in basis(4)], ALICE)
        assert hit.score == pytest.approx(1.0, abs=1e-3)

    def test_search_stays_in_scope(self, store: VectorStore) -> None:
        """Search never returns another scope's records, however similar.

        Troubleshooting: apply the scope as a pre-filter of the vector query, not as a
        post-filter over a global top-k (which also starves the scope of results).
        """
        mine = record("mine", ALICE)
        theirs = [record(f"theirs {i}", BOB) for i in range(30)]
        store.apply([add_change(r, basis(0)) for r in theirs] + [add_change(mine, basis(1))])
        hits = store.search(basis(0), ALICE, limit=5)
        assert _ids(hits) == [mine.id]

    # filters -------------------------------------------------------------------
    def _filter_records(self, store: VectorStore) -> list[MemoryRecord]:
        records = [
            record(f"filtered {i}", ALICE, metadata=meta, minutes=i,
                   attributed_to="assistant" if i % 3 == 0 else "user")
            for i, meta in enumerate(FILTER_DATA)
        ]
        decoy = record("decoy in another scope", BOB, metadata=FILTER_DATA[0])
        store.apply([add_change(r, random_unit(i)) for i, r in enumerate(records)]
                    + [add_change(decoy, random_unit(99))])
        return records

    def test_filter_matches_reference_semantics_or_is_refused(self, store: VectorStore) -> None:
        """Each filter case (one per operator and logical node) selects exactly the
        records :func:`memplane.filters.evaluate` selects, in list, count and search;
        an undeclared operator raises ``UnsupportedFilter`` instead. Every failing case
        is named in the message.

        Troubleshooting: compare your translation with ``memplane.filters.evaluate``
        (missing fields, ``ne``/``nin`` on missing, bool vs int, ``contains`` on lists);
        an operator you cannot translate must be left out of ``filter_operators``.
        """
        records = self._filter_records(store)  # one store for all cases: stores are slow to make
        failures = []
        for case in sorted(FILTER_CASES):
            try:
                self._check_filter_case(store, records, FILTER_CASES[case])
            except AssertionError as exc:
                failures.append(f"{case}: {exc}".splitlines()[0])
        assert not failures, "filter cases that failed:\n" + "\n".join(failures)

    def _check_filter_case(self, store: VectorStore, records: list[MemoryRecord],
                           spec: dict[str, Any]) -> None:
        tree = parse_filter(spec)
        missing = set(operators_used(tree)) - set(store.filter_operators)
        if missing:
            for call in (
                lambda: store.list_records(ALICE, filters=tree),
                lambda: store.count(ALICE, filters=tree),
                lambda: store.search(basis(0), ALICE, filters=tree, limit=50),
            ):
                with pytest.raises(UnsupportedFilter):
                    call()
            return
        expected = {r.id for r in records if evaluate(tree, r)}
        listed = _ids(store.list_records(ALICE, filters=tree, limit=100).records)
        assert sorted(listed) == sorted(expected), f"list_records with {spec}"
        assert store.count(ALICE, filters=tree) == len(expected), f"count with {spec}"
        searched = _ids(store.search(basis(0), ALICE, filters=tree, limit=50))
        assert sorted(searched) == sorted(expected), f"search with filter {spec}"

    def test_declared_operators_are_known(self, store: VectorStore) -> None:
        """``filter_operators`` only names operators memplane defines.

        Troubleshooting: use the names in ``memplane.filters.OPERATORS`` and ``LOGICAL``.
        """
        assert set(store.filter_operators) <= OPERATORS | LOGICAL

    # adversarial scopes --------------------------------------------------------
    def test_hostile_scope_values_never_cross_scopes(self, store: VectorStore) -> None:
        """Scope ids full of quotes, wildcards, operators, unicode look-alikes and very
        long strings neither crash the store nor reach each other's records.

        Troubleshooting: bind scope values as query parameters (never build query text
        from them), compare exactly (no case folding, no unicode normalisation, no LIKE),
        and store long values in full.
        """
        owned: dict[str, list[str]] = {}
        changes: list[Change] = []
        for i, value in enumerate(HOSTILE_IDS):
            scope = Scope(user_id=value)
            recs = [record(f"secret {i}-{j}", scope, minutes=j) for j in range(2)]
            owned[value] = [r.id for r in recs]
            changes.extend(add_change(r, basis(0)) for r in recs)
        store.apply(changes)
        every_id = [i for ids in owned.values() for i in ids]
        for value, ids in owned.items():
            scope = Scope(user_id=value)
            label = repr(value[:40])
            assert sorted(_ids(store.list_records(scope).records)) == sorted(ids), label
            assert store.count(scope) == len(ids), label
            assert sorted(_ids(store.search(basis(0), scope, limit=100))) == sorted(ids), label
            assert sorted(_ids(store.get(every_id, scope))) == sorted(ids), label
            assert all(r.scope.user_id == value for r in store.get(ids, scope)), label
            if store.has("keyword_search"):
                found = _ids(store.keyword_search("secret", scope, limit=100))
                assert set(found) <= set(ids), label
        # a hostile scope cannot delete anyone else's memories
        victims = [i for v, ids in owned.items() if v != "' OR '1'='1" for i in ids]
        assert store.delete(victims, Scope(user_id="' OR '1'='1")) == 0
        assert store.count(Scope(user_id="alice")) == 2

    @given(
        owners=st.lists(_SCOPES, min_size=1, max_size=10),
        queries=st.lists(_SCOPES, min_size=1, max_size=4),
    )
    @settings(max_examples=30, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.differing_executors])
    def test_random_scopes_match_reference_semantics(
        self, store: VectorStore, owners: list[Scope], queries: list[Scope]
    ) -> None:
        """For random scopes (hostile ids, arbitrary unicode, partial scopes), every
        read returns exactly the records :meth:`Scope.matches` selects.

        Troubleshooting: compare each scope id the query sets for exact equality and
        ignore the ones it leaves unset; a record without an id the query sets is no
        match. Shrunk failing examples are printed above.
        """
        recs = [record(f"owned {i}", scope, minutes=i) for i, scope in enumerate(owners)]
        store.apply([add_change(r, random_unit(i)) for i, r in enumerate(recs)])
        try:
            self._check_scopes(store, recs, owners + queries)
        finally:  # deleting by owner is much cheaper than a reset on server stores
            for r in recs:
                store.delete([r.id], r.scope)

    def _check_scopes(self, store: VectorStore, recs: list[MemoryRecord],
                      queries: list[Scope]) -> None:
        all_ids = [r.id for r in recs]
        for query in queries:
            expected = sorted(r.id for r in recs if query.matches(r.scope))
            assert sorted(_ids(store.list_records(query, limit=100).records)) == expected, query
            assert store.count(query) == len(expected), query
            assert sorted(_ids(store.search(basis(0), query, limit=100))) == expected, query
            assert sorted(_ids(store.get(all_ids, query))) == expected, query

    def test_hostile_metadata_values_are_stored_verbatim(self, store: VectorStore) -> None:
        """Metadata values with quotes, operators and unicode round-trip and filter exactly.

        Troubleshooting: bind filter values as parameters and store metadata as data
        (JSON), never as query text.
        """
        skip_unless_capable_op(store, "eq")
        recs = [record(f"m{i}", ALICE, metadata={"k": v}) for i, v in enumerate(HOSTILE_IDS)]
        store.apply([add_change(r, random_unit(i)) for i, r in enumerate(recs)])
        for r in recs:
            value = r.metadata["k"]
            got = _ids(store.list_records(ALICE, filters=parse_filter({"k": value})).records)
            assert got == [r.id], repr(value[:40])

    # capabilities ---------------------------------------------------------------
    def test_keyword_search(self, store: VectorStore) -> None:
        """Keyword search ranks records containing the query words first, scores in
        [0, 1], within the scope, honouring filters.

        Troubleshooting: tokenise consistently for indexing and querying, normalise the
        backend's relevance to [0, 1], and pre-filter by scope.
        """
        skip_unless_capable(store, "keyword_search")
        a = record("the user owns a golden retriever named Biscuit", ALICE, metadata={"t": "pet"})
        b = record("the user drinks oolong tea every morning", ALICE, metadata={"t": "drink"})
        c = record("Biscuit is a golden retriever", BOB, metadata={"t": "pet"})
        store.apply([add_change(a, basis(0)), add_change(b, basis(1)), add_change(c, basis(2))])
        hits = store.keyword_search("golden retriever", ALICE, limit=10)
        assert hits and hits[0].id == a.id
        assert c.id not in _ids(hits)
        assert all(0.0 <= h.score <= 1.0 for h in hits)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        if "eq" in store.filter_operators:
            filtered = store.keyword_search("golden retriever oolong", ALICE, limit=10,
                                            filters=parse_filter({"t": "drink"}))
            assert _ids(filtered) == [b.id]

    def test_persistent_store_survives_reopen(
        self, memplane_new_store: Callable[..., VectorStore],
        memplane_reopen: Callable[[VectorStore], VectorStore],
    ) -> None:
        """A ``persistent`` store finds its records and history again after close and
        reopen with the same config, and refuses a different dimension.

        Troubleshooting: everything that identifies the data (path, collection, tenant)
        must live in the config; ``open`` must read the stored dimension.
        """
        store = memplane_new_store()
        skip_unless_capable(store, "persistent")
        rec = record("survives restarts", ALICE, metadata={"k": 1})
        store.apply([add_change(rec, basis(5))])
        store.close()
        again = memplane_reopen(store)
        try:
            again.open(DIM)
            [got] = again.get([rec.id], ALICE)
            assert got.model_dump() == rec.model_dump()
            assert [e.event for e in again.history(rec.id, ALICE)] == [HistoryEvent.ADD]
            assert _ids(again.search(basis(5), ALICE)) == [rec.id]
        finally:
            again.close()
        third = memplane_reopen(store)
        try:
            with pytest.raises(DimensionMismatch):
                third.open(DIM * 2)
        finally:
            third.close()

    def test_open_with_another_dimension_is_refused(self, store: VectorStore) -> None:
        """Opening a store that holds vectors of one size at another size raises
        ``DimensionMismatch``.

        Troubleshooting: remember the dimension the data was created with and compare it
        in ``open`` before doing anything else.
        """
        store.apply([add_change(record("sized", ALICE), basis(0))])
        with pytest.raises(DimensionMismatch):
            store.open(DIM + 4)

    def test_vector_of_wrong_size_is_a_typed_error(self, store: VectorStore) -> None:
        """Applying a vector of the wrong length raises a memplane error and writes nothing.

        Troubleshooting: check ``len(vector)`` against the opened dimension before writing
        and raise ``memplane.errors.DimensionMismatch`` or ``ValidationError``.
        """
        good = record("good", ALICE)
        bad = record("bad", ALICE)
        with pytest.raises(MemplaneError):
            store.apply([add_change(bad, [1.0] * (DIM + 1))])
        store.apply([add_change(good, basis(0))])
        assert _ids(store.list_records(ALICE).records) == [good.id]

    @pytest.mark.parametrize("value", [float("nan"), float("inf"), [1.0, float("-inf")],
                                       {"nested": float("nan")}], ids=["nan", "inf", "list", "dict"])
    def test_nan_or_infinite_metadata_is_refused(self, store: VectorStore, value: Any) -> None:
        """Metadata holding NaN or infinity raises ``ValidationError`` and writes
        nothing: JSON has no such numbers, and a store that kept them as null would
        disagree with one that refuses them.

        Troubleshooting: the ``VectorStore`` base class refuses it before ``_apply``
        (``memplane.providers.store_checks.check_metadata``); a store that overrides
        ``apply`` instead of implementing ``_apply`` must call it itself.
        """
        bad = record("bad metadata", ALICE, metadata={"score": value})
        with pytest.raises(ValidationError):
            store.apply([add_change(bad, basis(0))])
        assert _ids(store.list_records(ALICE).records) == []

    def test_concurrent_writers(
        self, memplane_new_store: Callable[..., VectorStore],
        memplane_reopen: Callable[[VectorStore], VectorStore],
    ) -> None:
        """With ``concurrent_writers`` several instances on the same data write at once
        without errors (no "database is locked") and without losing records.

        Troubleshooting: use the backend's locking/retry (SQLite: WAL and a busy
        timeout; servers: idempotent upserts) and keep transactions short.
        """
        store = memplane_new_store()
        skip_unless_capable(store, "concurrent_writers")
        writers, per_writer = 4, 15
        errors: list[BaseException] = []
        others = [memplane_reopen(store) for _ in range(writers)]
        for other in others:
            other.open(DIM)
        start = threading.Barrier(writers)

        def write(n: int, target: VectorStore) -> None:
            try:
                start.wait()
                for j in range(per_writer):
                    rec = record(f"writer {n} item {j}", Scope(user_id="shared"))
                    target.apply([add_change(rec, random_unit(n * 100 + j))])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(n, s)) for n, s in enumerate(others)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for other in others:
            other.close()
        assert not errors, f"concurrent writers failed: {errors[:3]!r}"
        assert store.count(Scope(user_id="shared")) == writers * per_writer

    def test_async_methods_mirror_sync(self, store: VectorStore) -> None:
        """``aapply``/``aget``/``asearch``/``acount``/``alist_records`` give the sync results.

        Troubleshooting: async overrides must accept the same keyword arguments as the
        sync methods; if you override one, declare ``async_native``.
        """
        rec = record("async", ALICE)

        async def scenario() -> None:
            await store.aapply([add_change(rec, basis(0))])
            assert _ids(await store.aget([rec.id], ALICE)) == [rec.id]
            assert _ids(await store.asearch(basis(0), ALICE, limit=3)) == [rec.id]
            assert await store.acount(ALICE) == 1
            assert _ids((await store.alist_records(ALICE, limit=5)).records) == [rec.id]

        with async_native_probe(store, VectorStore, ASYNC_HOOKS):
            asyncio.run(scenario())


def skip_unless_capable_op(store: VectorStore, op: str) -> None:
    if op not in store.filter_operators:
        suite_skip(f"vector store {store.name!r} does not declare the filter operator {op!r}")
