"""Ids first: ``Memory.search`` fetches both signals as light hits in one store call
(``candidate_search``) and reads records only for the results it returns.

What must hold: the same results as the record-carrying path (the base class
fallback over ``search`` + ``keyword_search``), a store answering outside the scope
never leaks into results, a memory deleted between the two steps is replaced by the
next candidate, and the sqlite store reads both signals from one snapshot while
another process writes.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from memplane import Memory, MemoryConfig, hookimpl
from memplane.embedders.hashing import HashingEmbedder
from memplane.filters import Filter
from memplane.llms.scripted import ScriptedLLM
from memplane.models import Scope
from memplane.plugins.hooks import PluginManager, ProviderCall
from memplane.providers.base import Candidates, LightHit, VectorStore
from memplane.stores.inmemory import InMemoryStore
from memplane.stores.sqlite import SQLiteStore

FACTS = [
    "Alice moved to Lisbon in March", "Alice works on a Rust compiler", "Alice's dog is called Bruno",
    "Alice is allergic to peanuts", "Alice plays jazz piano on Fridays", "Alice visited Porto by train",
    "Alice prefers green tea to coffee", "Alice runs a sourdough starter named Clint",
    "Alice bought a used road bike", "Alice reads Portuguese novels", "Alice lived in Berlin before",
    "Alice's sister lives in Porto", "Alice learned chess from her grandfather",
]
QUERIES = ["where does Alice live?", "what does she drink", "Porto", "dog name", "hobbies on Friday"]
SETTINGS: list[dict[str, Any]] = [
    {}, {"fusion": "rrf"}, {"fusion": "weighted"},
    {"recency_weight": 0.3, "newer_first_margin": 0.05},
]


#: another tenant's memories, written to match the queries better than Alice's
MALLORY = [f"{q} {q} Porto Porto dog name drink live Friday" for q in QUERIES]


def _fill(memory: Memory, user: str = "alice", facts: Sequence[str] = FACTS) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for i, fact in enumerate(facts):
        memory.add(fact, user_id=user, infer=False, observed_at=start + timedelta(days=9 * i),
                   metadata={"n": i})


def _memory(store: VectorStore, settings: dict[str, Any] | None = None,
            plugins: PluginManager | None = None) -> Memory:
    return Memory(MemoryConfig.model_validate({"search": settings or {}}), llm=ScriptedLLM(),
                  embedder=HashingEmbedder(), vector_store=store,
                  plugins=plugins or PluginManager(autoload=False))


def _answers(memory: Memory, **kwargs: Any) -> list[tuple[str, float, dict[str, float], str | None]]:
    out = []
    for query in QUERIES:
        out.extend((h.id, h.score, h.signals, h.match) for h in memory.search(query, user_id="alice", **kwargs))
    return out


class FallbackMemoryStore(InMemoryStore):
    """The reference store without ``candidate_search``: the base class answers
    ``search_candidates`` from ``_search`` and ``_keyword_search``."""

    name: ClassVar[str] = "memory_fallback"
    capabilities: ClassVar[frozenset[str]] = InMemoryStore.capabilities - {"candidate_search"}


class FallbackSQLiteStore(SQLiteStore):
    name: ClassVar[str] = "sqlite_fallback"
    capabilities: ClassVar[frozenset[str]] = SQLiteStore.capabilities - {"candidate_search"}


def _pair(kind: str, tmp_path: Path) -> tuple[VectorStore, VectorStore]:
    if kind == "memory":
        return InMemoryStore(), FallbackMemoryStore()
    return (SQLiteStore({"path": str(tmp_path / "a.db")}),
            FallbackSQLiteStore({"path": str(tmp_path / "b.db")}))


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_results_are_those_of_the_record_carrying_path(kind: str, tmp_path: Path) -> None:
    light, full = _pair(kind, tmp_path)
    assert light.has("candidate_search") and not full.has("candidate_search")
    for settings in SETTINGS:
        a, b = _memory(light, settings), _memory(full, settings)
        if not settings:
            _fill(a)
            _fill(b)
        # ids differ between the two stores (new ids per add): compare by position
        for kwargs in ({"limit": 5, "explain": True}, {"limit": 13}, {"limit": 4, "hybrid": False},
                       {"limit": 6, "filters": {"n": {"gte": 4}}, "explain": True},
                       {"limit": 3, "threshold": 0.6}):
            left, right = _answers(a, **kwargs), _answers(b, **kwargs)
            assert [x[1:] for x in left] == [x[1:] for x in right], (settings, kwargs)
            texts_a = [a.get(x[0], user_id="alice").text for x in left]
            texts_b = [b.get(x[0], user_id="alice").text for x in right]
            assert texts_a == texts_b, (settings, kwargs)
    light.close()
    full.close()


class LeakyStore(InMemoryStore):
    """A broken store: its light answers ignore the scope."""

    name: ClassVar[str] = "leaky"

    def _search_candidates(self, vector: Sequence[float], query: str, scope: Scope, limit: int,
                           filters: Filter | None, keyword: bool, include_deleted: bool,
                           include_expired: bool) -> Candidates:
        everyone = Scope(user_id="mallory")
        own = InMemoryStore._search_candidates
        found = [own(self, vector, query, s, limit, filters, keyword, include_deleted, include_expired)
                 for s in (scope, everyone)]
        return Candidates([h for c in found for h in c.vector],
                          [h for c in found for h in c.keyword or []])


def test_hits_outside_the_scope_never_reach_the_results_or_their_scores() -> None:
    leaky, honest = _memory(LeakyStore()), _memory(InMemoryStore())
    for memory in (leaky, honest):
        _fill(memory)
        _fill(memory, user="mallory", facts=MALLORY)
    for query in QUERIES:
        hits = leaky.search(query, user_id="alice", limit=20, explain=True)
        assert hits and all(h.record.scope == Scope(user_id="alice") for h in hits), query
        # another tenant's candidates must not even shape the scores (keyword
        # normalisation, floors): the answers are those of an honest store
        fair = honest.search(query, user_id="alice", limit=20, explain=True)
        assert [(h.text, h.score, h.signals) for h in hits] == [(h.text, h.score, h.signals) for h in fair]


class DeleteAfterCandidates:
    """A hook plugin that soft-deletes the best vector candidate right after the store
    answered ``search_candidates``, through a second Memory on the same file (another
    connection): a delete landing between the two steps of a search."""

    def __init__(self, other: Memory) -> None:
        self.other = other
        self.deleted: list[str] = []

    @hookimpl(wrapper=True)
    def memplane_provider_call(self, call: ProviderCall) -> Iterator[None]:
        result = yield
        if call.method == "search_candidates" and not self.deleted:
            victim = result.vector[0].id
            self.other.delete(victim, user_id="alice")
            self.deleted.append(victim)
        return result  # type: ignore[no-any-return]


def test_a_memory_deleted_between_candidates_and_records_is_replaced(tmp_path: Path) -> None:
    path = str(tmp_path / "race.db")
    other = _memory(SQLiteStore({"path": path}))
    _fill(other)
    before = [h.id for h in other.search("Porto", user_id="alice", limit=4, hybrid=False)]
    plugin = DeleteAfterCandidates(other)
    manager = PluginManager(autoload=False)
    manager.register(plugin)
    memory = _memory(SQLiteStore({"path": path}), plugins=manager)
    after = [h.id for h in memory.search("Porto", user_id="alice", limit=4, hybrid=False)]
    assert plugin.deleted == [before[0]]
    assert after == [*before[1:], after[-1]] and len(after) == 4 and before[0] not in after
    memory.close()
    other.close()


def _writer(path: str, target_id: str, rounds: int, ready: Any) -> None:
    """Another process: rewrites one memory between two texts, ``rounds`` times."""
    memory = _memory(SQLiteStore({"path": path}))
    ready.set()
    texts = ("apple tart recipe from grandma", "pear crumble recipe from grandpa")
    for i in range(rounds):
        memory.update(target_id, texts[(i + 1) % 2], user_id="alice")
    memory.close()


def test_sqlite_signals_read_one_snapshot_while_another_process_writes(tmp_path: Path) -> None:
    path = str(tmp_path / "snap.db")
    memory = _memory(SQLiteStore({"path": path}))
    _fill(memory)
    target = memory.add("apple tart recipe from grandma", user_id="alice", infer=False).events[0].id
    embedder = HashingEmbedder()
    vectors = {t: embedder.embed([t])[0] for t in ("apple tart recipe from grandma",
                                                   "pear crumble recipe from grandpa")}
    store = SQLiteStore({"path": path})
    store.open(embedder.dimension)
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    child = context.Process(target=_writer, args=(path, target, 400, ready))
    child.start()
    assert ready.wait(60), "the writer process did not start"
    seen: set[str] = set()
    query = vectors["apple tart recipe from grandma"]
    # the vector score each version of the memory has for this query
    scores = {t: (1 + sum(a * b for a, b in zip(query, v, strict=True))) / 2 for t, v in vectors.items()}
    while child.is_alive() or not seen:
        found = store.search_candidates(query, "apple pear recipe grandma grandpa", Scope(user_id="alice"),
                                        limit=50)
        v = {h.id: h for h in found.vector}[target]
        k = {h.id: h for h in found.keyword or []}[target]
        assert v.text == k.text, f"one search saw two versions: {v.text!r} and {k.text!r}"
        assert isinstance(v, LightHit) and v.score == pytest.approx(scores[v.text], abs=1e-5), (
            f"the vector score of {v.text!r} belongs to the other version")
        seen.add(v.text)
    child.join(60)
    assert child.exitcode == 0
    assert len(seen) == 2, "no write landed while searching: the race was not exercised"
    store.close()
    memory.close()


class NoKeywordStore(InMemoryStore):
    name: ClassVar[str] = "memory_no_keyword"
    capabilities: ClassVar[frozenset[str]] = InMemoryStore.capabilities - {"keyword_search"}


@pytest.mark.parametrize("store", [InMemoryStore(), FallbackMemoryStore()], ids=["declared", "fallback"])
def test_search_candidates_checks_its_arguments_like_search_and_keyword_search(store: VectorStore) -> None:
    from memplane.errors import ScopeRequired, UnsupportedCapability, ValidationError

    store.open(4)
    alice, unit = Scope(user_id="alice"), [1.0, 0.0, 0.0, 0.0]
    with pytest.raises(ScopeRequired):
        store.search_candidates(unit, "q", Scope())
    with pytest.raises(ValidationError, match="dimensions"):
        store.search_candidates([1.0, 0.0], "q", alice)
    with pytest.raises(ValidationError, match="NaN"):
        store.search_candidates([float("nan"), 0.0, 0.0, 0.0], "q", alice)
    with pytest.raises(ValidationError, match="string"):
        store.search_candidates(unit, 42, alice)  # type: ignore[arg-type]
    assert store.search_candidates(unit, 42, alice, keyword=False).keyword is None  # type: ignore[arg-type]
    for limit in (0, -1, True, 2.5):
        with pytest.raises(ValidationError, match="limit"):
            store.search_candidates(unit, "q", alice, limit=limit)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="unknown filter operator"):
        store.search_candidates(unit, "q", alice, filters={"n": {"regex": ".*"}})  # type: ignore[arg-type]
    bare = NoKeywordStore()
    bare.open(4)
    with pytest.raises(UnsupportedCapability):
        bare.search_candidates(unit, "q", alice)
    assert bare.search_candidates(unit, "q", alice, keyword=False) == Candidates([], None)
