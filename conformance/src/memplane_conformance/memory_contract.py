"""``MemoryContract``: ADD/UPDATE/DELETE/NONE end to end with the provider under test.

Subclass it beside your kind's contract and supply the same fixture(s):
``store_factory`` (vector stores), ``embedder`` (embedders), ``llm_factory`` +
``scripted_endpoint`` (LLMs). An optional ``memory_factory`` fixture (a callable
taking the :class:`~memplane_conformance.parts.Parts` and returning a ``Memory``-like
object with ``close()``) replaces ``Memory(...)`` as the thing the scenarios drive. Kinds you do not supply are deterministic built-ins:
decisions are scripted (through your endpoint when you test an LLM, else the
``scripted`` LLM), vectors come from the ``hashing`` embedder, records live in the
``memory`` store. Each scenario shows the model at most one existing memory when it
refers to an id, so the scripted ids are unambiguous whatever the embedder.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from memplane.errors import MemoryNotFound, UnsupportedFilter
from memplane.models import HistoryEvent
from memplane_conformance.contract import ContractBase
from memplane_conformance.parts import Parts, optional_fixture, parts_from_fixtures


def _current(memory: Any, **scope: str) -> dict[str, str]:
    """id -> text of the scope's visible memories (every page)."""
    out: dict[str, str] = {}
    cursor = None
    while True:
        page = memory.get_all(limit=50, cursor=cursor, **scope)
        out.update({r.id: r.text for r in page.records})
        cursor = page.next_cursor
        if cursor is None:
            return out


def _history_hidden(memory: Any, memory_id: str, **scope: str) -> bool:
    """True when the scope sees no history for the id (empty, or MemoryNotFound)."""
    try:
        return not memory.history(memory_id, **scope)
    except MemoryNotFound:
        return True


def _one(result: Any, event: str) -> Any:
    found = result.by_event(event)
    assert len(found) == 1, f"expected one {event}, got {result.events} / {result.diagnostics}"
    return found[0]


class MemoryContract(ContractBase):
    """Memory scenarios. Needs the fixture(s) of the kind under test (see module doc)."""

    _memplane_suite_class: ClassVar[bool] = True

    @pytest.fixture
    def parts(self, request: pytest.FixtureRequest) -> Iterator[Parts]:
        yield from parts_from_fixtures(request)

    @pytest.fixture
    def memory(self, parts: Parts, request: pytest.FixtureRequest) -> Iterator[Any]:
        """``parts.memory()``, or what the author's ``memory_factory(parts)`` fixture
        returns (a declared extension point: e.g. a client of a server holding these
        providers); the summary names it."""
        factory = optional_fixture(request, "memory_factory")
        if factory is None:
            memory = parts.memory()
        else:
            from memplane_conformance.guard import note_extension

            note_extension("memory_factory", getattr(factory, "__qualname__", repr(factory)))
            memory = factory(parts)
        yield memory
        memory.close()

    def _seed(self, memory: Any, text: str, **scope: Any) -> str:
        """Store one memory without the LLM and return its id."""
        result = memory.add(text, infer=False, **scope)
        return str(_one(result, "ADD").id)

    # scenarios -------------------------------------------------------------------
    def test_new_fact_is_added_and_found(self, parts: Parts, memory: Any) -> None:
        """A new fact is stored once and search finds it with a score in [0, 1].

        Troubleshooting: if the ADD is missing, the LLM reply was not parsed (see
        diagnostics); if search misses it, check the store's search and scope handling.
        """
        parts.decide({"event": "ADD", "text": "User lives in Lisbon"})
        result = memory.add("I moved to Lisbon last year", user_id="alice")
        added = _one(result, "ADD")
        assert _current(memory, user_id="alice") == {added.id: "User lives in Lisbon"}
        hits = memory.search("Where does the user live? Lisbon", user_id="alice")
        assert hits and hits[0].id == added.id and 0.0 <= hits[0].score <= 1.0

    def test_several_facts_in_one_message(self, parts: Parts, memory: Any) -> None:
        """One message with three facts gives three memories.

        Troubleshooting: ``apply`` must upsert every change of a batch, not only the first.
        """
        facts = ["User is a nurse", "User has two cats", "User plays the cello"]
        parts.decide(*({"event": "ADD", "text": f} for f in facts))
        result = memory.add("I'm a nurse, I have two cats and I play the cello", user_id="multi")
        assert sorted(e.text for e in result.by_event("ADD")) == sorted(facts)
        assert sorted(_current(memory, user_id="multi").values()) == sorted(facts)

    def test_refinement_updates_in_place(self, parts: Parts, memory: Any) -> None:
        """A richer version of a known fact keeps the id, replaces the text, and records
        the old text in history.

        Troubleshooting: an upsert with the same id must replace the record (and its
        vector), and append an UPDATE history entry with old and new text.
        """
        mid = self._seed(memory, "User likes coffee", user_id="refine")
        parts.decide({"event": "UPDATE", "id": 0, "text": "User likes oat-milk flat whites"})
        result = memory.add("Specifically, oat-milk flat whites", user_id="refine")
        assert _one(result, "UPDATE").id == mid
        assert _current(memory, user_id="refine") == {mid: "User likes oat-milk flat whites"}
        history = memory.history(mid, user_id="refine")
        assert [h.event for h in history] == [HistoryEvent.ADD, HistoryEvent.UPDATE]
        assert (history[1].old_text, history[1].new_text) == (
            "User likes coffee", "User likes oat-milk flat whites")
        [hit] = memory.search("oat-milk flat whites", user_id="refine", limit=1)
        assert hit.id == mid

    def test_contradiction_keeps_the_new_fact_and_the_old_in_history(
        self, parts: Parts, memory: Any
    ) -> None:
        """DELETE of a contradicted fact plus ADD of the new one: the new fact is current,
        the old one is hidden but kept in history.

        Troubleshooting: soft delete means a record with ``deleted_at`` set, hidden from
        list/count/search but still returned by ``get(include_deleted=True)``.
        """
        old = self._seed(memory, "User prefers Python", user_id="contra")
        parts.decide({"event": "DELETE", "id": 0, "reason": "contradicted"},
                     {"event": "ADD", "text": "User prefers TypeScript"})
        result = memory.add("I switched from Python to TypeScript for good", user_id="contra")
        new = _one(result, "ADD")
        assert _one(result, "DELETE").id == old
        assert _current(memory, user_id="contra") == {new.id: "User prefers TypeScript"}
        assert [h.event for h in memory.history(old, user_id="contra")] == [
            HistoryEvent.ADD, HistoryEvent.DELETE]
        assert memory.history(old, user_id="contra")[-1].old_text == "User prefers Python"
        assert all(h.id != old for h in memory.search("Python", user_id="contra"))

    def test_contradiction_without_a_usable_new_fact_deletes_nothing(
        self, parts: Parts, memory: Any
    ) -> None:
        """When the new half of a contradiction is rejected, the old fact stays.

        Troubleshooting: this is the core's rule; if it fails only with your provider,
        the store applied part of a batch it was asked to drop.
        """
        old = self._seed(memory, "User prefers Python", user_id="half")
        parts.decide({"event": "DELETE", "id": 0}, {"event": "ADD", "text": ""})
        result = memory.add("I switched to something else", user_id="half")
        assert not result.by_event("DELETE") and result.diagnostics
        assert _current(memory, user_id="half") == {old: "User prefers Python"}

    def test_retraction_deletes(self, parts: Parts, memory: Any) -> None:
        """"Forget that ..." soft-deletes the memory: gone from reads, kept in history.

        Troubleshooting: hide ``deleted_at`` records from list, count and search.
        """
        mid = self._seed(memory, "User likes olives", user_id="forget")
        parts.decide({"event": "DELETE", "id": 0, "reason": "retracted"})
        result = memory.add("Please forget that I like olives", user_id="forget")
        assert _one(result, "DELETE").id == mid
        assert _current(memory, user_id="forget") == {}
        assert memory.search("olives", user_id="forget") == []
        with pytest.raises(MemoryNotFound):
            memory.get(mid, user_id="forget")
        assert memory.get(mid, user_id="forget", include_deleted=True).deleted_at is not None

    def test_duplicate_changes_nothing(self, parts: Parts, memory: Any) -> None:
        """NONE for a known fact, and an ADD that repeats it, both leave one memory.

        Troubleshooting: the record's ``hash`` must round-trip unchanged; the core uses
        it to spot duplicates.
        """
        mid = self._seed(memory, "User lives in Lisbon", user_id="dup")
        parts.decide({"event": "NONE", "id": 0})
        assert not [e for e in memory.add("I live in Lisbon", user_id="dup").events
                    if e.event != "NONE"]
        parts.decide({"event": "ADD", "text": "user lives in Lisbon."})
        result = memory.add("Lisbon is where I live", user_id="dup")
        assert not result.by_event("ADD")
        assert _current(memory, user_id="dup") == {mid: "User lives in Lisbon"}
        assert [h.event for h in memory.history(mid, user_id="dup")] == [HistoryEvent.ADD]

    def test_two_users_never_see_each_other(self, parts: Parts, memory: Any) -> None:
        """Alice's memories are invisible and untouchable from Bob's scope.

        Troubleshooting: every store call carries the scope; filter by it inside the
        query (get, list, count, search, keyword search, delete, history).
        """
        a = self._seed(memory, "User's bank PIN hint is the dog's name", user_id="alice")
        b = self._seed(memory, "User's bank PIN hint is the cat's name", user_id="bob")
        assert set(_current(memory, user_id="alice")) == {a}
        assert [h.id for h in memory.search("bank PIN hint", user_id="bob")] == [b]
        with pytest.raises(MemoryNotFound):
            memory.get(a, user_id="bob")
        with pytest.raises(MemoryNotFound):
            memory.delete(a, user_id="bob")
        with pytest.raises(MemoryNotFound):
            memory.update(a, "hijacked", user_id="bob")
        assert _history_hidden(memory, a, user_id="bob")
        # the LLM only ever sees the caller's own memories
        parts.decide({"event": "UPDATE", "id": 0, "text": "User's bank PIN hint changed"})
        memory.add("my PIN hint changed", user_id="bob")
        assert _current(memory, user_id="alice") == {a: "User's bank PIN hint is the dog's name"}

    def test_assistant_attributed_fact(self, parts: Parts, memory: Any) -> None:
        """A fact the assistant stated is stored with ``attributed_to="assistant"``.

        Troubleshooting: persist ``attributed_to`` on the record.
        """
        parts.decide({"event": "ADD", "text": "Assistant booked a table at Tasca do Chico",
                      "attributed_to": "assistant"})
        result = memory.add(
            [{"role": "user", "content": "Can you book dinner for Friday?"},
             {"role": "assistant", "content": "Done: a table at Tasca do Chico at 8pm."}],
            user_id="attr",
        )
        added = _one(result, "ADD")
        assert memory.get(added.id, user_id="attr").attributed_to == "assistant"

    def test_metadata_filters(self, parts: Parts, memory: Any) -> None:
        """Metadata given to ``add`` is stored and filters search and listing.

        Troubleshooting: store metadata as data and translate ``eq``; an operator the
        store cannot evaluate must raise ``UnsupportedFilter``.
        """
        food = self._seed(memory, "User loves ramen", user_id="meta", metadata={"topic": "food"})
        self._seed(memory, "User loves Kyoto", user_id="meta", metadata={"topic": "travel"})
        if "eq" not in parts.store.filter_operators:
            with pytest.raises(UnsupportedFilter):
                memory.search("loves", user_id="meta", filters={"topic": "food"})
            return
        assert [h.id for h in memory.search("loves", user_id="meta",
                                            filters={"topic": "food"})] == [food]
        page = memory.get_all(user_id="meta", filters={"topic": "food"})
        assert [r.id for r in page.records] == [food]
        assert memory.get(food, user_id="meta").metadata["topic"] == "food"

    def test_history_integrity(self, parts: Parts, memory: Any) -> None:
        """ADD, two UPDATEs and a DELETE leave a chained history, oldest first: each
        entry's old text is the previous entry's new text.

        Troubleshooting: append history in the same ``apply`` as the record change and
        return it ordered by time.
        """
        mid = self._seed(memory, "User runs 5k", user_id="hist")
        memory.update(mid, "User runs 10k", user_id="hist")
        parts.decide({"event": "UPDATE", "id": 0, "text": "User runs half marathons"})
        memory.add("I'm up to half marathons now", user_id="hist")
        memory.delete(mid, user_id="hist")
        history = memory.history(mid, user_id="hist")
        assert [h.event for h in history] == [HistoryEvent.ADD, HistoryEvent.UPDATE,
                                              HistoryEvent.UPDATE, HistoryEvent.DELETE]
        for before, after in itertools.pairwise(history):
            assert after.old_text == before.new_text or (
                after.event == HistoryEvent.DELETE and after.old_text == "User runs half marathons")
            assert after.at >= before.at
        assert all(h.memory_id == mid for h in history)

    def test_restore_after_delete(self, parts: Parts, memory: Any) -> None:
        """A deleted memory can be restored: visible and searchable again, with a
        RESTORE entry in history.

        Troubleshooting: ``get(include_deleted=True)`` must return soft-deleted records,
        and upserting one with ``deleted_at=None`` must make it visible again.
        """
        mid = self._seed(memory, "User speaks Portuguese", user_id="restore")
        memory.delete(mid, user_id="restore")
        assert _current(memory, user_id="restore") == {}
        restored = memory.restore(mid, user_id="restore")
        assert restored.id == mid and restored.deleted_at is None
        assert _current(memory, user_id="restore") == {mid: "User speaks Portuguese"}
        assert [h.id for h in memory.search("Portuguese", user_id="restore")] == [mid]
        assert memory.history(mid, user_id="restore")[-1].event == HistoryEvent.RESTORE

    def test_delete_all_is_limited_to_its_scope(self, parts: Parts, memory: Any) -> None:
        """``delete_all`` removes exactly the memories its scope matches.

        Troubleshooting: list the scope's ids with the full scope (user, agent, run) and
        delete only those.
        """
        a1 = self._seed(memory, "User likes jazz", user_id="dall", agent_id="music")
        a2 = self._seed(memory, "User likes chess", user_id="dall", agent_id="games")
        b = self._seed(memory, "User likes jazz too", user_id="other", agent_id="music")
        assert memory.delete_all(user_id="dall", agent_id="music") == 1
        assert set(_current(memory, user_id="dall")) == {a2}
        assert set(_current(memory, user_id="other")) == {b}
        assert memory.get(a1, user_id="dall", include_deleted=True).deleted_at is not None

    def test_invented_id_changes_nothing(self, parts: Parts, memory: Any) -> None:
        """A decision naming an id the model was never shown is a diagnostic.

        Troubleshooting: this is the core's check; if it fails only with your provider,
        the store returned records from outside the scope to the prompt.
        """
        mid = self._seed(memory, "User prefers tea", user_id="invent")
        parts.decide({"event": "UPDATE", "id": 3, "text": "User prefers coffee"})
        result = memory.add("I prefer coffee now", user_id="invent")
        assert not result.by_event("UPDATE") and result.diagnostics
        assert _current(memory, user_id="invent") == {mid: "User prefers tea"}

    def test_async_memory_mirrors_sync(self, parts: Parts) -> None:
        """``AsyncMemory`` runs the same scenario: ADD, search, UPDATE, history.

        Troubleshooting: async overrides (``aapply``, ``asearch``...) must behave like
        the sync methods; if you declare ``async_native``, check them against each other.
        """
        from memplane.async_memory import AsyncMemory

        async def scenario() -> None:
            async with AsyncMemory(llm=parts.llm, embedder=parts.embedder,
                                   vector_store=parts.store) as memory:
                parts.decide({"event": "ADD", "text": "User plays padel"})
                added = _one(await memory.add("I play padel", user_id="async"), "ADD")
                hits = await memory.search("padel", user_id="async")
                assert [h.id for h in hits] == [added.id]
                parts.decide({"event": "UPDATE", "id": 0, "text": "User plays padel weekly"})
                updated = _one(await memory.add("every week", user_id="async"), "UPDATE")
                assert updated.id == added.id
                history = await memory.history(added.id, user_id="async")
                assert [h.event for h in history] == [HistoryEvent.ADD, HistoryEvent.UPDATE]

        asyncio.run(scenario())

    def test_reset_removes_everything(self, parts: Parts, memory: Any) -> None:
        """``reset`` empties every scope.

        Troubleshooting: the store's ``reset`` must drop all records and history and stay
        usable.
        """
        a = self._seed(memory, "User likes tea", user_id="r1")
        self._seed(memory, "User likes coffee", user_id="r2")
        memory.reset()
        assert _current(memory, user_id="r1") == {} and _current(memory, user_id="r2") == {}
        assert _history_hidden(memory, a, user_id="r1")
        self._seed(memory, "User likes water", user_id="r1")
        assert len(_current(memory, user_id="r1")) == 1
