"""Tenant isolation of the sqlite store, as a stateful property test.

Random operations across many scopes whose ids contain quotes, backslashes,
unicode, LIKE wildcards and very long strings: no read ever returns a record
outside the query scope, no delete or update ever reaches across, and counts
agree with a plain Python model.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, initialize, invariant, rule

from memplane.errors import DuplicateMemory, ValidationError
from memplane.models import Change, HistoryEntry, HistoryEvent, MemoryRecord, Scope, utcnow
from memplane.stores.sqlite import SQLiteStore

DIM = 4

hostile_ids = st.one_of(
    st.sampled_from([
        "alice", "Alice", "alice ", "' OR '1'='1", '"; DROP TABLE records; --', "\\", "\\\\", "%",
        "_", "a%", "a_", "*", "ünï", "日本語", "🙂", "NULL", "null", "0", "x" * 5000, "a\nb", "$.user_id",
    ]),
    st.text(min_size=1, max_size=12),
)


@st.composite
def scopes(draw: st.DrawFn) -> Scope:
    fields = draw(st.sets(st.sampled_from(["user_id", "agent_id", "run_id"]), min_size=1))
    return Scope(**{f: draw(hostile_ids) for f in fields})


class IsolationMachine(RuleBasedStateMachine):
    records = Bundle("records")

    @initialize()
    def open_store(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="memplane-isolation-")
        self.store = SQLiteStore(path=str(Path(self.dir) / "iso.db"))
        self.store.open(DIM)
        self.model: dict[str, MemoryRecord] = {}  # every record that exists, by id
        self.seen_scopes: list[Scope] = []

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _visible(self, query: Scope) -> list[MemoryRecord]:
        return [r for r in self.model.values() if query.matches(r.scope) and r.deleted_at is None]

    def _query_scopes(self, scope: Scope) -> list[Scope]:
        """The scope itself and each single-id narrowing of it."""
        return [scope, *(Scope(**{k: v}) for k, v in scope.items())]

    @rule(target=records, scope=scopes(), noise=st.floats(-0.1, 0.1))
    def add(self, scope: Scope, noise: float) -> str:
        text = f"shared words {scope.user_id or ''} {scope.agent_id or ''} {scope.run_id or ''}"
        record = MemoryRecord(text=text, scope=scope, metadata={"owner": scope.user_id})
        change = Change(record=record, vector=[1.0, noise, 0.0, 0.0],
                        history=HistoryEntry(memory_id=record.id, event=HistoryEvent.ADD, new_text=text))
        twin = next((r for r in self.model.values() if r.scope == scope and r.hash == record.hash
                     and r.deleted_at is None), None)
        if twin is not None:  # contract v2: one live memory per text and exact scope
            with pytest.raises(DuplicateMemory) as refused:
                self.store.apply([change])
            assert refused.value.existing_id == twin.id
            return twin.id
        self.store.apply([change])
        self.model[record.id] = record
        self.seen_scopes.append(scope)
        return record.id

    @rule(rid=records)
    def soft_delete(self, rid: str) -> None:
        if rid not in self.model:
            return
        old = self.model[rid]
        record = old.model_copy(update={"deleted_at": utcnow(), "version": old.version + 1})
        self.store.apply([Change(record=record, history=HistoryEntry(memory_id=rid, event=HistoryEvent.DELETE),
                                 expected_version=old.version)])
        self.model[rid] = record

    @rule(rid=records, other=scopes())
    def hijack_is_refused(self, rid: str, other: Scope) -> None:
        if rid not in self.model or self.model[rid].scope == other:
            return
        stolen = self.model[rid].model_copy(update={"scope": other, "text": "stolen"})
        with pytest.raises(ValidationError):
            self.store.apply([Change(record=stolen, vector=[0.0, 1.0, 0.0, 0.0])])

    @rule(rid=consumes(records), query=scopes())
    def hard_delete(self, rid: str, query: Scope) -> None:
        expected = 1 if rid in self.model and query.matches(self.model[rid].scope) else 0
        assert self.store.delete([rid], query) == expected
        if expected:
            del self.model[rid]

    @rule(data=st.data())
    def reads_stay_inside_the_scope(self, data: st.DataObject) -> None:
        if not self.seen_scopes:
            return
        base = data.draw(st.sampled_from(self.seen_scopes) | scopes())
        for query in self._query_scopes(base):
            self._check_reads(query)

    def _check_reads(self, query: Scope) -> None:
        store = self.store
        expected = {r.id for r in self._visible(query)}
        inside = lambda recs: all(query.matches(r.scope) for r in recs)  # noqa: E731
        listed = store.list_records(query, limit=1000).records
        assert inside(listed) and {r.id for r in listed} == expected
        assert store.count(query) == len(expected)
        hits = store.search([1.0, 0.0, 0.0, 0.0], query, limit=1000)
        assert inside([h.record for h in hits]) and {h.id for h in hits} == expected
        for words in ("shared words", " ".join(v for _, v in query.items())):
            keyword = store.keyword_search(words, query, limit=1000)
            assert inside([h.record for h in keyword])
            if words == "shared words":  # every memory has these words
                assert {h.id for h in keyword} == expected
        got = store.get(list(self.model), query)
        assert inside(got)
        assert {r.id for r in got} == {r.id for r in self.model.values() if query.matches(r.scope)}
        for rid, record in self.model.items():
            history = store.history(rid, query)
            assert bool(history) == query.matches(record.scope)
        filtered = store.list_records(query, filters={"owner": {"exists": True}}, limit=1000).records
        assert inside(filtered)

    @invariant()
    def total_matches_model(self) -> None:
        if hasattr(self, "store"):  # every scope seen holds exactly what the model says
            for scope in set(self.seen_scopes):
                expected = sum(scope.matches(r.scope) for r in self.model.values())
                assert self.store.count(scope, include_deleted=True) == expected


# derandomized like the filter property tests: CI runs the same programs every time
IsolationMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=25, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestScopeIsolation = IsolationMachine.TestCase
