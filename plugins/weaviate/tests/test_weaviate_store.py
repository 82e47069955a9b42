"""Weaviate-specific behaviour beyond the shared contract, checked through the
requests the loopback server received."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from memplane.errors import (
    AuthenticationError,
    ConfigurationError,
    DimensionMismatch,
    UnsupportedFilter,
    ValidationError,
)
from memplane.filters import parse_filter
from memplane.models import Change, HistoryEntry, MemoryRecord, Scope
from memplane.plugins.registry import load_provider_class
from memplane_conformance.lazy import sdk_modules_after_loading
from memplane_weaviate.layout import hexed, object_uuid
from memplane_weaviate.store import UNSCOPED_TENANT, WeaviateVectorStore, tenant_name
from memplane_weaviate.testing import WeaviateLoopback

ALICE = Scope(user_id="alice")
DIM = 4


def _add(store: WeaviateVectorStore, *records: MemoryRecord) -> None:
    store.apply([Change(record=r, vector=[1.0, float(i), 0.0, 0.0],
                        history=HistoryEntry(memory_id=r.id, event="ADD", new_text=r.text))
                 for i, r in enumerate(records)])


def test_entry_point_loads_the_store_without_importing_the_sdk() -> None:
    configs = {"vector_stores": {"mode": "local"}}  # constructing too
    assert sdk_modules_after_loading("weaviate", configs, ["weaviate", "grpc"]) == []
    assert load_provider_class("vector_stores", "weaviate") is WeaviateVectorStore


@pytest.mark.parametrize("bad", [
    {"collection": "lowercase"}, {"mode": "cloud"}, {"mode": "carrier-pigeon"}, {"port": 1},
])
def test_config_errors_name_the_problem(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        WeaviateVectorStore(bad)


def test_one_tenant_per_user_created_on_first_write(
    server: WeaviateLoopback, make_store: Callable[..., WeaviateVectorStore]
) -> None:
    store = make_store()
    store.open(DIM)
    hostile = "' OR 1=1 -- \U0001f642"
    _add(store, MemoryRecord(text="a", scope=ALICE), MemoryRecord(text="b", scope=Scope(user_id=hostile)),
         MemoryRecord(text="c", scope=Scope(agent_id="only-agent")))
    tenants = server.db.get(store.config.collection).tenants
    assert tenants == {tenant_name("alice"), tenant_name(hostile), UNSCOPED_TENANT}
    created = [c for c in server.calls(f"POST /v1/schema/{store.config.collection}/tenants")]
    assert created, "tenants must be created explicitly"
    # reads name the tenant and still filter on the scope ids (hex, typed gRPC values)
    before = len(server.calls("Search"))
    store.list_records(ALICE)
    [search] = server.calls("Search")[before:]
    assert search.request.tenant == tenant_name("alice")
    assert hexed("alice") in str(search.request.filters)


def test_scope_without_the_tenant_field_fans_out(
    make_store: Callable[..., WeaviateVectorStore],
) -> None:
    store = make_store()
    store.open(DIM)
    a = MemoryRecord(text="a", scope=Scope(user_id="u1", agent_id="bot"))
    b = MemoryRecord(text="b", scope=Scope(user_id="u2", agent_id="bot"))
    c = MemoryRecord(text="c", scope=Scope(user_id="u2", agent_id="other"))
    _add(store, a, b, c)
    assert {r.id for r in store.list_records(Scope(agent_id="bot")).records} == {a.id, b.id}
    assert store.count(Scope(agent_id="bot")) == 2
    assert {h.id for h in store.search([1.0, 0.0, 0.0, 0.0], Scope(agent_id="bot"))} == {a.id, b.id}


def test_dimension_is_remembered_and_checked(
    make_store: Callable[..., WeaviateVectorStore],
) -> None:
    store = make_store()
    store.open(DIM)
    again = WeaviateVectorStore(store.config)
    with pytest.raises(DimensionMismatch):
        again.open(DIM * 2)
    again.close()


def test_scoping_mode_must_match_the_collection(
    make_store: Callable[..., WeaviateVectorStore],
) -> None:
    store = make_store(scoping="filter")
    store.open(DIM)
    other = WeaviateVectorStore(store.config.model_copy(update={"scoping": "tenant"}))
    with pytest.raises(ConfigurationError, match="scoping"):
        other.open(DIM)
    other.close()


def test_foreign_collection_is_refused(
    server: WeaviateLoopback, make_store: Callable[..., WeaviateVectorStore]
) -> None:
    store = make_store()
    with server.db.lock:
        server.db.create_collection({"class": store.config.collection, "properties": []})
    with pytest.raises(ConfigurationError, match="not created by memplane"):
        store.open(DIM)


def test_metadata_keys_become_typed_properties_on_demand(
    server: WeaviateLoopback, make_store: Callable[..., WeaviateVectorStore]
) -> None:
    store = make_store()
    store.open(DIM)
    weird = 'key with "quotes", spaces and ünïcode'
    rec = MemoryRecord(text="m", scope=ALICE, metadata={weird: "v", "n": 3, "flags": [True]})
    _add(store, rec)
    names = {p["name"] for p in server.db.get(store.config.collection).schema["properties"]}
    assert sum(n.startswith("m_") for n in names) == 3  # one typed property per key
    assert [r.id for r in store.list_records(ALICE, filters=parse_filter({weird: "v"})).records] \
        == [rec.id]
    # a key nobody ever wrote filters to "no match" without touching the schema
    assert store.count(ALICE, filters=parse_filter({"never": "seen"})) == 0
    assert store.count(ALICE, filters=parse_filter({"never": {"ne": "seen"}})) == 1


def test_list_or_object_operands_are_refused(
    make_store: Callable[..., WeaviateVectorStore],
) -> None:
    store = make_store()
    store.open(DIM)
    with pytest.raises(UnsupportedFilter):
        store.count(ALICE, filters=parse_filter({"k": {"eq": [1, 2]}}))


def test_history_and_vector_survive_an_update_without_vector(
    make_store: Callable[..., WeaviateVectorStore],
) -> None:
    store = make_store()
    store.open(DIM)
    rec = MemoryRecord(text="v1", scope=ALICE)
    _add(store, rec)
    v2 = rec.model_copy(update={"text": "v2", "version": 2})
    store.apply([Change(record=v2, vector=None, expected_version=1, history=HistoryEntry(
        memory_id=rec.id, event="UPDATE", old_text="v1", new_text="v2"))])
    assert [e.event for e in store.history(rec.id, ALICE)] == ["ADD", "UPDATE"]
    assert store.get_vectors([rec.id], ALICE) == {rec.id: [1.0, 0.0, 0.0, 0.0]}
    assert store.get_vectors([rec.id], Scope(user_id="mallory")) == {}


def test_objects_have_derived_uuids_and_new_records_need_vectors(
    server: WeaviateLoopback, make_store: Callable[..., WeaviateVectorStore],
) -> None:
    store = make_store(scoping="filter")
    store.open(DIM)
    rec = MemoryRecord(id="not-a-uuid", text="x", scope=ALICE)
    _add(store, rec)
    assert object_uuid("not-a-uuid") in server.db.get(store.config.collection).objects[""]
    with pytest.raises(ValidationError, match="needs a vector"):
        store.apply([Change(record=MemoryRecord(text="y", scope=ALICE), vector=None)])


def test_bad_api_key_is_an_authentication_error() -> None:
    with WeaviateLoopback(api_key="right") as secured:
        store = WeaviateVectorStore(secured.store_config(api_key="wrong"))
        with pytest.raises(AuthenticationError, match="api_key"):
            store.open(DIM)
        good = WeaviateVectorStore(secured.store_config())
        good.open(DIM)
        _add(good, MemoryRecord(text="ok", scope=ALICE))
        assert good.count(ALICE) == 1
        good.close()


def test_a_refused_object_leaves_its_memory_and_history_as_they_were(
    server: WeaviateLoopback, make_store: Callable[..., WeaviateVectorStore],
) -> None:
    from memplane.errors import ProviderError

    store = make_store()
    store.open(DIM)
    a = MemoryRecord(text="a1", scope=ALICE)
    b = MemoryRecord(text="b1", scope=ALICE)
    _add(store, a, b)
    a2 = a.model_copy(update={"text": "a2", "version": 2})
    b2 = b.model_copy(update={"text": "b2", "version": 2})
    server.refuse_objects(lambda props: props.get("text") == "b2", "disk full")
    try:
        with pytest.raises(ProviderError, match="disk full"):
            store.apply([
                Change(record=r, vector=None, expected_version=1, history=HistoryEntry(
                    memory_id=r.id, event="UPDATE", old_text=old, new_text=r.text))
                for r, old in ((a2, "a1"), (b2, "b1"))
            ])
    finally:
        server.refuse_objects(None)
    # each memory is either fully updated (record + history) or untouched
    [got_a, got_b] = store.get([a.id, b.id], ALICE)
    assert (got_a.text, [e.event for e in store.history(a.id, ALICE)]) == ("a2", ["ADD", "UPDATE"])
    assert (got_b.text, [e.event for e in store.history(b.id, ALICE)]) == ("b1", ["ADD"])
    # retrying the same batch completes it
    store.apply([Change(record=b2, vector=None, expected_version=1, history=HistoryEntry(
        memory_id=b.id, event="UPDATE", old_text="b1", new_text="b2"))])
    assert [e.event for e in store.history(b.id, ALICE)] == ["ADD", "UPDATE"]


def test_non_finite_vectors_are_refused_before_writing(
    make_store: Callable[..., WeaviateVectorStore],
) -> None:
    store = make_store()
    store.open(DIM)
    good, bad = MemoryRecord(text="good", scope=ALICE), MemoryRecord(text="bad", scope=ALICE)
    with pytest.raises(ValidationError, match="NaN"):
        store.apply([Change(record=good, vector=[1.0] * DIM),
                     Change(record=bad, vector=[float("nan")] * DIM)])
    assert store.count(ALICE, include_deleted=True) == 0


def test_drop_removes_the_collection_without_opening_it(
    server: WeaviateLoopback, make_store: Callable[..., WeaviateVectorStore],
) -> None:
    store = make_store()
    store.open(DIM)
    _add(store, MemoryRecord(text="x", scope=ALICE))
    store.close()
    fresh = WeaviateVectorStore(store.config)
    fresh.drop()
    fresh.close()
    assert store.config.collection not in server.db.collections


def test_an_id_of_another_scope_is_refused_never_copied(
    make_store: Callable[..., WeaviateVectorStore],
) -> None:
    """With tenant scoping one uuid could live in two tenants; contract v2 refuses
    the second owner, and nothing is written."""
    from memplane.errors import IdOwnedByAnotherScope

    store = make_store()
    store.open(DIM)
    mine = MemoryRecord(text="alice's", scope=ALICE)
    _add(store, mine)
    stolen = mine.model_copy(update={"scope": Scope(user_id="mallory"), "text": "mallory's"})
    with pytest.raises(IdOwnedByAnotherScope):
        store.apply([Change(record=stolen, vector=[1.0] * DIM)])
    assert store.get([mine.id], Scope(user_id="mallory")) == []
    assert [r.text for r in store.get([mine.id], ALICE)] == ["alice's"]
