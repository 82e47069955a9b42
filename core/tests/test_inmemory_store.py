"""The in-memory reference store: the shared conformance suite plus its own details."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from memplane.errors import ValidationError
from memplane.models import Change, MemoryRecord, Scope
from memplane.stores.inmemory import InMemoryStore, keyword_terms
from memplane_conformance import VectorStoreContract


class TestInMemoryStoreContract(VectorStoreContract):
    @pytest.fixture
    def store_factory(self) -> Callable[[], InMemoryStore]:
        return InMemoryStore


def record(text: str, user: str = "u") -> MemoryRecord:
    return MemoryRecord(text=text, scope=Scope(user_id=user))


def test_keyword_terms_are_language_neutral() -> None:
    assert keyword_terms("Straße MÜNCHEN") == ["strasse", "münchen"]  # case folding, no stemming
    assert keyword_terms("我喜欢寿司") == ["我喜", "喜欢", "欢寿", "寿司"]
    assert keyword_terms("Москва, 2024") == ["москва", "2024"]


def test_keyword_search_scores_idf_weighted_coverage() -> None:
    store = InMemoryStore()
    store.open(4)
    docs = [record("我喜欢寿司"), record("我喜欢咖啡"), record("Ich wohne in Berlin")]
    store.apply([Change(record=d, vector=[1.0, 0, 0, 0]) for d in docs])
    hits = store.keyword_search("寿司", Scope(user_id="u"))
    assert [h.text for h in hits] == ["我喜欢寿司"] and hits[0].score == pytest.approx(1.0)
    hits = store.keyword_search("wohne Berlin", Scope(user_id="u"))
    assert [h.text for h in hits] == ["Ich wohne in Berlin"]
    partial = store.keyword_search("我喜欢寿司", Scope(user_id="u"))
    assert [h.text for h in partial] == ["我喜欢寿司", "我喜欢咖啡"]
    assert 0 < partial[1].score < partial[0].score <= 1


def test_apply_is_all_or_nothing() -> None:
    store = InMemoryStore()
    store.open(3)
    good = Change(record=record("ok"), vector=[1.0, 0, 0])
    bad = Change(record=record("no vector"))  # a new record must come with a vector
    with pytest.raises(ValidationError):
        store.apply([good, bad])
    assert store.count(Scope(user_id="u")) == 0
    wrong_size = Change(record=record("wrong"), vector=[1.0, 0])
    with pytest.raises(ValidationError, match="dimensional"):  # the base class checks sizes
        store.apply([good, wrong_size])
    assert store.count(Scope(user_id="u")) == 0


def test_cosine_scores_are_in_unit_range() -> None:
    store = InMemoryStore()
    store.open(8)
    rng = np.random.default_rng(7)
    store.apply([Change(record=record(f"r{i}"), vector=rng.normal(size=8).tolist()) for i in range(20)])
    query = rng.normal(size=8).tolist()
    hits = store.search(query, Scope(user_id="u"), limit=20)
    assert all(0 <= h.score <= 1 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    same = store.search([1.0] + [0.0] * 7, Scope(user_id="u"), limit=1)
    store.apply([Change(record=record("axis"), vector=[2.0] + [0.0] * 7)])
    top = store.search([1.0] + [0.0] * 7, Scope(user_id="u"), limit=1)[0]
    bottom = store.search([-1.0] + [0.0] * 7, Scope(user_id="u"), limit=30)[-1]
    assert same and top.text == "axis" and top.score == pytest.approx(1.0)
    assert bottom.text == "axis" and bottom.score == pytest.approx(0.0, abs=1e-6)


def test_get_vectors_returns_unit_vectors_of_the_scope_only() -> None:
    store = InMemoryStore()
    store.open(2)
    mine, theirs = record("mine"), record("theirs", user="other")
    store.apply([Change(record=mine, vector=[3.0, 4.0]), Change(record=theirs, vector=[1.0, 0.0])])
    vectors = store.get_vectors([mine.id, theirs.id, "missing"], Scope(user_id="u"))
    assert list(vectors) == [mine.id]
    assert vectors[mine.id] == pytest.approx([0.6, 0.8])
