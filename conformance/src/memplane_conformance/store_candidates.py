"""``candidate_search``: both signals of a hybrid search as light hits, from one snapshot.

A store declaring it implements ``_search_candidates``; ``Memory.search`` then fetches
ids, scores and the few fields fusion reads in one call and builds records only for
the results it returns. Its answers must be those of ``search`` and ``keyword_search``
for the same arguments, and both lists must come from the same state of the store.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any, ClassVar

import pytest

from memplane.models import MemoryRecord, Scope, utcnow
from memplane.providers.base import LightHit, VectorStore
from memplane_conformance.contract import skip_unless_capable
from memplane_conformance.data import (
    add_change,
    basis,
    random_unit,
    record,
    soft_delete_change,
    update_change,
)
from memplane_conformance.store_common import ALICE, BOB

ALICE_AGENT = Scope(user_id="alice", agent_id="helper")
_WORDS = ("walrus", "opera", "ferry", "kayak", "lantern", "quartz")
_FLAGS = ((False, False), (True, False), (False, True), (True, True))


def _records() -> tuple[list[MemoryRecord], list[MemoryRecord]]:
    """Records of three scopes (one inside another) sharing words in various mixes,
    some observed, some expired; and which of them to soft-delete afterwards."""
    out: list[MemoryRecord] = []
    for i in range(24):
        scope = (ALICE, ALICE_AGENT, BOB)[i % 3]
        words = " ".join(_WORDS[j] for j in range(len(_WORDS)) if (i >> (j % 4)) & 1 or j == i % 6)
        fields: dict[str, Any] = {}
        if i % 4 == 1:
            fields["observed_at"] = utcnow() - timedelta(days=i)
        if i % 7 == 3:
            fields["expires_at"] = utcnow() - timedelta(seconds=5)
        topic = ("food", "travel", "work")[i % 3 if i % 2 else (i // 2) % 3]
        out.append(record(f"note {i}: {words}", scope, minutes=i, metadata={"topic": topic}, **fields))
    return out, [r for i, r in enumerate(out) if i % 5 == 2]


def _same(light: list[LightHit], hits: list[Any], what: str) -> None:
    assert [h.id for h in light] == [h.id for h in hits], f"{what}: other ids or order"
    for mine, full in zip(light, hits, strict=True):
        r = full.record
        assert mine.score == pytest.approx(full.score, abs=1e-6), f"{what}: score of {r.id}"
        assert (mine.text, mine.scope, mine.created_at, mine.observed_at) == (
            r.text, r.scope, r.created_at, r.observed_at), f"{what}: fields of {r.id}"


class StoreCandidateTests:
    """Mixed into :class:`~memplane_conformance.VectorStoreContract`."""

    _memplane_suite_class: ClassVar[bool] = True

    def test_candidate_search_agrees_with_search_and_keyword_search(self, store: VectorStore) -> None:
        """With ``candidate_search``, ``search_candidates`` returns what ``search`` and
        ``keyword_search`` return for the same arguments: the same ids in the same order,
        the same scores, and each hit's text, scope, ``created_at`` and ``observed_at``
        as its record has them; across scopes (one nested in another, one foreign),
        soft-deleted and expired records with and without ``include_*``, filters, and
        ``keyword=False`` (then ``keyword`` is None).

        Troubleshooting: run the very queries of ``_search`` and ``_keyword_search``
        (same scope condition, visibility and filter translation) and read only fewer
        columns; never search a wider set and cut it down afterwards.
        """
        skip_unless_capable(store, "candidate_search")
        recs, gone = _records()
        store.apply([add_change(r, random_unit(i)) for i, r in enumerate(recs)])
        store.apply([soft_delete_change(r) for r in gone])
        keyword = store.has("keyword_search")
        filters: list[dict[str, Any] | None] = [None]
        if "eq" in store.filter_operators:
            filters.append({"topic": "food"})
        if {"NOT", "eq"} <= store.filter_operators:
            filters.append({"NOT": {"topic": "travel"}})
        query = "walrus ferry quartz"
        for scope in (ALICE, ALICE_AGENT, BOB):
            for deleted, expired in _FLAGS:
                for tree in filters:
                    for limit in (3, 100):
                        args: dict[str, Any] = {"limit": limit, "filters": tree,
                                                "include_deleted": deleted, "include_expired": expired}
                        what = f"{scope.items()} {args}"
                        vector = random_unit(99)
                        found = store.search_candidates(vector, query, scope, keyword=keyword, **args)
                        _same(found.vector, store.search(vector, scope, **args), f"vector {what}")
                        if keyword:
                            assert found.keyword is not None, f"keyword list missing: {what}"
                            _same(found.keyword, store.keyword_search(query, scope, **args),
                                  f"keyword {what}")
                        only = store.search_candidates(vector, query, scope, keyword=False, **args)
                        assert only.keyword is None, "keyword=False still searched keywords"
                        _same(only.vector, store.search(vector, scope, **args), f"keyword=False {what}")

    def test_candidate_search_reads_one_state_while_a_writer_commits(self, store: VectorStore) -> None:
        """With ``candidate_search``, both lists come from one state of the store: while
        another thread keeps rewriting a memory (its text and vector switch between two
        versions), a memory found by both signals has the same text in both lists, and
        its vector score is that of the text it has there.

        Troubleshooting: read the vector and the keyword signal inside one read
        transaction (or under one lock): two transactions let a write commit between
        them, and fusion would then mix two versions of one memory.
        """
        skip_unless_capable(store, "candidate_search")
        skip_unless_capable(store, "keyword_search")
        apple, pear = basis(0), basis(1)
        versions = {"apple tart recipe": apple, "pear crumble recipe": pear}
        [target] = [record("apple tart recipe", ALICE)]
        others = [record(f"filler {w}", ALICE, minutes=i + 1) for i, w in enumerate(_WORDS)]
        store.apply([add_change(target, apple)] + [add_change(r, basis(2 + i % 4)) for i, r in
                                                   enumerate(others)])
        stop = threading.Event()
        errors: list[BaseException] = []

        def rewrite() -> None:
            current = target
            try:
                while not stop.is_set():
                    text = "pear crumble recipe" if current.text.startswith("apple") else "apple tart recipe"
                    change = update_change(current, text, versions[text])
                    store.apply([change])
                    current = change.record
            except BaseException as exc:  # reported below, never lost in the thread
                errors.append(exc)

        writer = threading.Thread(target=rewrite, daemon=True)
        writer.start()
        seen: set[str] = set()
        try:
            for _ in range(300):
                found = store.search_candidates(apple, "apple pear recipe", ALICE, limit=20)
                by_vector = {h.id: h for h in found.vector}
                by_keyword = {h.id: h for h in found.keyword or []}
                assert target.id in by_vector and target.id in by_keyword, "the memory went missing"
                v, k = by_vector[target.id], by_keyword[target.id]
                assert v.text == k.text, f"mixed states: vector saw {v.text!r}, keyword {k.text!r}"
                expected = 1.0 if v.text.startswith("apple") else 0.5
                assert v.score == pytest.approx(expected, abs=1e-5), f"score of {v.text!r} is {v.score}"
                seen.add(v.text)
        finally:
            stop.set()
            writer.join(30)
        assert not errors, f"the writer failed: {errors[0]!r}"
        assert len(seen) == 2, "the writer never committed while searching: nothing was tested"
