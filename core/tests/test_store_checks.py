"""The argument checks stores share (memplane.providers.store_checks), and the in-memory
store refusing what they refuse before it writes anything."""

from __future__ import annotations

import math

import pytest

from memplane.errors import (
    Conflict,
    DuplicateMemory,
    IdOwnedByAnotherScope,
    ScopeRequired,
    ValidationError,
)
from memplane.models import Change, HistoryEntry, HistoryEvent, MemoryRecord, Scope
from memplane.providers import store_checks as common
from memplane.stores.inmemory import InMemoryStore

SCOPE = Scope(user_id="u")


def add(rec: MemoryRecord, vector: list[float] | None, memory_id: str | None = None) -> Change:
    entry = HistoryEntry(memory_id=memory_id or rec.id, event=HistoryEvent.ADD, new_text=rec.text)
    return Change(record=rec, vector=vector, history=entry)


@pytest.mark.parametrize("bad", [0, -1, 2.0, "4", True, None])
def test_dimension_must_be_a_positive_integer(bad: object) -> None:
    with pytest.raises(ValidationError, match="positive integer"):
        common.check_dimension(bad)
    assert common.check_dimension(3) == 3


def test_changes_are_checked_for_size_values_and_history_owner() -> None:
    rec = MemoryRecord(text="x", scope=SCOPE)
    common.check_change(add(rec, [1.0, 0.0]), 2)
    common.check_change(add(rec, None), 2)  # keeps the stored vector
    with pytest.raises(ValidationError, match="3-dimensional vector but the store holds 2"):
        common.check_change(add(rec, [1.0, 0.0, 0.0]), 2)
    common.check_change(add(rec, [1.0, 0.0, 0.0]), None)  # length left to the caller
    for value in (math.nan, math.inf):
        with pytest.raises(ValidationError, match="NaN or infinite"):
            common.check_change(add(rec, [1.0, value]), None)
    with pytest.raises(ValidationError, match="attached to memory"):
        common.check_change(add(rec, [1.0, 0.0], memory_id="someone-else"), 2)
    unscoped = rec.model_copy(update={"scope": Scope()})
    with pytest.raises(ScopeRequired):
        common.check_change(add(unscoped, [1.0, 0.0]), 2)


def test_query_vectors_and_page_limits() -> None:
    common.check_query_vector([0.5, 0.5], 2)
    with pytest.raises(ValidationError, match="query vector has 3 dimensions; the store holds 2"):
        common.check_query_vector([1.0, 0.0, 0.0], 2)
    with pytest.raises(ValidationError, match="NaN or infinite"):
        common.check_query_vector([1.0, math.nan], 2)
    common.check_page_limit(1)
    with pytest.raises(ValidationError, match="positive integer"):
        common.check_page_limit(0)


def test_vector_and_history_to_write() -> None:
    rec = MemoryRecord(text="x", scope=SCOPE)
    assert common.vector_to_write(add(rec, [1, 2]), None) == [1.0, 2.0]
    assert common.vector_to_write(add(rec, None), (3.0, 4.0)) == [3.0, 4.0]
    with pytest.raises(ValidationError, match="is new, so its change needs a vector"):
        common.vector_to_write(add(rec, None), None)
    stored = [{"event": "ADD"}]
    written = common.history_to_write(stored, add(rec, None))
    assert written[0] == {"event": "ADD"} and written[1]["memory_id"] == rec.id
    assert stored == [{"event": "ADD"}]  # the caller's list is not changed
    assert common.history_to_write(stored, Change(record=rec)) == stored


def test_prefixed_cursors() -> None:
    assert common.parse_prefixed_cursor(None, "c1:") is None
    assert common.parse_prefixed_cursor("c1:abc", "c1:") == "abc"
    with pytest.raises(ValidationError, match="pass back the next_cursor"):
        common.parse_prefixed_cursor("abc", "c1:")


def test_inmemory_store_refuses_bad_changes_before_writing() -> None:
    store = InMemoryStore()
    store.open(2)
    good = MemoryRecord(text="good", scope=SCOPE)
    bad = MemoryRecord(text="bad", scope=SCOPE)
    with pytest.raises(ValidationError, match="NaN"):
        store.apply([add(good, [1.0, 0.0]), add(bad, [math.nan, 0.0])])
    with pytest.raises(ValidationError, match="attached to memory"):
        store.apply([add(good, [1.0, 0.0]), add(bad, [0.0, 1.0], memory_id=good.id)])
    assert store.count(SCOPE) == 0
    assert store.history(good.id, SCOPE) == []


@pytest.mark.parametrize("metadata", [
    {"x": float("nan")}, {"x": float("inf")}, {"x": [1, float("-inf")]}, {"x": {"y": float("nan")}},
])
def test_metadata_without_a_json_number_is_refused(metadata: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="NaN or infinity"):
        common.check_metadata("m1", metadata)


def test_integers_beyond_64_bits_are_refused_only_where_the_store_asks() -> None:
    big = {"x": [2**63]}
    common.check_metadata("m1", big)  # JSON and SQLite keep it
    with pytest.raises(ValidationError, match="64 bits"):
        common.check_metadata("m1", big, int64=True)
    common.check_metadata("m1", {"x": 2**63 - 1, "y": -(2**63), "b": True}, int64=True)


def test_a_change_must_write_the_version_after_the_expected_one() -> None:
    rec = MemoryRecord(text="x", scope=SCOPE)
    with pytest.raises(ValidationError, match="must write version 1"):
        common.check_change(add(rec.model_copy(update={"version": 2}), [1.0]), None)
    update = Change(record=rec.model_copy(update={"version": 4}), expected_version=2)
    with pytest.raises(ValidationError, match="must write version 3"):
        common.check_change(update, None)
    with pytest.raises(ValidationError, match="twice"):
        common.check_batch([add(rec, [1.0]), add(rec, [1.0])], None)


def test_check_versions_refuses_each_kind_of_stale_or_foreign_write() -> None:
    stored = MemoryRecord(text="kept", scope=SCOPE, version=3)
    other = MemoryRecord(id=stored.id, text="kept", scope=Scope(user_id="v"))
    never: dict[str, MemoryRecord] = {}

    def no_owner(scope: Scope, hash_: str) -> str | None:
        return None

    with pytest.raises(Conflict) as created_twice:
        common.check_versions([add(other.model_copy(update={"scope": SCOPE}), [1.0])],
                              {stored.id: stored}, no_owner)
    assert (created_twice.value.expected, created_twice.value.actual) == (None, 3)
    with pytest.raises(IdOwnedByAnotherScope) as foreign:
        common.check_versions([add(other, [1.0])], {stored.id: stored}, no_owner)
    assert "user_id" not in str(foreign.value) and "'u'" not in str(foreign.value)
    stale = Change(record=stored.model_copy(update={"version": 3}), expected_version=2)
    with pytest.raises(Conflict) as lost:
        common.check_versions([stale], {stored.id: stored}, no_owner)
    assert (lost.value.memory_id, lost.value.expected, lost.value.actual) == (stored.id, 2, 3)
    with pytest.raises(Conflict) as gone:
        common.check_versions([stale], never, no_owner)
    assert gone.value.actual is None
    fresh = Change(record=stored.model_copy(update={"version": 4}), expected_version=3)
    common.check_versions([fresh], {stored.id: stored}, no_owner)
    twin = MemoryRecord(text="kept", scope=SCOPE)
    with pytest.raises(DuplicateMemory) as dup:
        common.check_versions([add(twin, [1.0])], never, lambda scope, h: "owner")
    assert dup.value.existing_id == "owner" and isinstance(dup.value, Conflict)
    again = MemoryRecord(text="kept", scope=SCOPE)
    with pytest.raises(DuplicateMemory):  # two creates of one text in one batch
        common.check_versions([add(twin, [1.0]), add(again, [1.0])], never, no_owner)
