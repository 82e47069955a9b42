"""Milvus-specific behaviour beyond the shared contract."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from memplane.errors import ConfigurationError, IdOwnedByAnotherScope, ValidationError
from memplane.models import Change, MemoryRecord, Scope
from memplane.plugins.registry import load_provider_class
from memplane_conformance.lazy import sdk_modules_after_loading
from memplane_milvus.store import MilvusVectorStore

ALICE = Scope(user_id="alice")


def test_entry_point_loads_the_store_without_importing_the_sdk() -> None:
    configs = {"vector_stores": {"uri": "x.db"}}  # constructing too
    assert sdk_modules_after_loading("milvus", configs, ["pymilvus", "milvus_lite"]) == []
    assert load_provider_class("vector_stores", "milvus") is MilvusVectorStore


def test_config_is_validated_with_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="collection"):
        MilvusVectorStore({"collection": "bad-name; drop"})
    with pytest.raises(ConfigurationError, match="uri_typo"):
        MilvusVectorStore({"uri_typo": "x.db"})


def test_capabilities_follow_the_deployment() -> None:
    lite = MilvusVectorStore({"uri": "local.db"})
    server = MilvusVectorStore({"uri": "http://milvus:19530", "keyword_search": False})
    assert lite.has("keyword_search") and not lite.has("concurrent_writers")
    assert server.has("concurrent_writers") and not server.has("keyword_search")
    assert server.config.use_templates and not lite.config.use_templates


def test_calls_before_open_say_what_to_do() -> None:
    with pytest.raises(ConfigurationError, match=r"open\(dimension\)"):
        MilvusVectorStore({"uri": "never.db"}).count(ALICE)


def test_foreign_collection_is_refused(make_store: Callable[..., MilvusVectorStore]) -> None:
    from pymilvus import MilvusClient

    store = make_store()
    client = MilvusClient(uri=store.config.uri)
    client.create_collection(store.config.collection, dimension=8)
    client.close()
    with pytest.raises(ConfigurationError, match="not created by memplane"):
        store.open(8)


def test_new_record_without_vector_is_refused(store: MilvusVectorStore) -> None:
    rec = MemoryRecord(text="no vector", scope=ALICE)
    with pytest.raises(ValidationError, match="needs a vector"):
        store.apply([Change(record=rec, vector=None)])
    assert store.count(ALICE, include_deleted=True) == 0


def test_two_changes_to_one_memory_in_one_batch_are_refused(store: MilvusVectorStore) -> None:
    """Contract v2 checks one version per id and batch, so a batch names an id once."""
    rec = MemoryRecord(text="v1", scope=ALICE)
    v2 = rec.model_copy(update={"text": "v2", "version": 2})
    with pytest.raises(ValidationError, match="twice"):
        store.apply([Change(record=rec, vector=[1.0] + [0.0] * 7),
                     Change(record=v2, vector=None, expected_version=1)])
    assert store.count(ALICE, include_deleted=True) == 0


def test_an_id_of_another_scope_is_refused_never_moved(store: MilvusVectorStore) -> None:
    """A primary-key upsert would move the row into the caller's scope; the store
    refuses it (as a create and as an update of the version read) and writes nothing."""
    mine = MemoryRecord(text="alice's fact", scope=ALICE)
    store.apply([Change(record=mine, vector=[1.0] * 8)])
    stolen = mine.model_copy(update={"scope": Scope(user_id="bob"), "text": "bob's now"})
    with pytest.raises(IdOwnedByAnotherScope):
        store.apply([Change(record=stolen, vector=[0.5] * 8)])
    with pytest.raises(IdOwnedByAnotherScope):
        store.apply([Change(record=stolen.model_copy(update={"version": 2}), expected_version=1)])
    assert [r.text for r in store.get([mine.id], ALICE)] == ["alice's fact"]
    assert store.get([mine.id], Scope(user_id="bob")) == []
    assert store.get_vectors([mine.id], ALICE) == {mine.id: [1.0] * 8}


def test_invalid_cursor_is_a_validation_error(store: MilvusVectorStore) -> None:
    with pytest.raises(ValidationError, match="next_cursor"):
        store.list_records(ALICE, cursor="garbage")


def test_keyword_search_can_be_switched_off(make_store: Callable[..., MilvusVectorStore]) -> None:
    from memplane.errors import UnsupportedCapability

    store = make_store(keyword_search=False)
    store.open(8)
    with pytest.raises(UnsupportedCapability):
        store.keyword_search("anything", ALICE)


def test_partition_key_none_still_isolates_scopes(
    make_store: Callable[..., MilvusVectorStore],
) -> None:
    store = make_store(partition_key="none")
    store.open(8)
    mine = MemoryRecord(text="mine", scope=ALICE)
    theirs = MemoryRecord(text="theirs", scope=Scope(user_id="bob"))
    store.apply([Change(record=r, vector=[1.0] * 8) for r in (mine, theirs)])
    assert [h.id for h in store.search([1.0] * 8, ALICE)] == [mine.id]


def test_get_vectors_returns_stored_vectors_in_scope(store: MilvusVectorStore) -> None:
    mine = MemoryRecord(text="mine", scope=ALICE)
    theirs = MemoryRecord(text="theirs", scope=Scope(user_id="bob"))
    store.apply([Change(record=mine, vector=[0.5] * 8), Change(record=theirs, vector=[1.0] * 8)])
    assert store.get_vectors([mine.id, theirs.id, "missing"], ALICE) == {mine.id: [0.5] * 8}


@pytest.mark.parametrize("key", ['k"] or 1==1 or meta_idx["k', "back\\slash", "ünï code", "a.b", "{p0}"])
def test_hostile_metadata_keys_filter_exactly(store: MilvusVectorStore, key: str) -> None:
    from memplane.filters import parse_filter

    hit = MemoryRecord(text="hit", scope=ALICE, metadata={key: "v"})
    miss = MemoryRecord(text="miss", scope=ALICE, metadata={"k": "v", "other": key})
    store.apply([Change(record=r, vector=[1.0] * 8) for r in (hit, miss)])
    assert [r.id for r in store.list_records(ALICE, filters=parse_filter({key: "v"})).records] \
        == [hit.id]
    assert store.count(ALICE, filters=parse_filter({key: {"exists": False}})) == 1


def test_non_finite_vectors_are_refused_before_writing(store: MilvusVectorStore) -> None:
    good = MemoryRecord(text="good", scope=ALICE)
    bad = MemoryRecord(text="bad", scope=ALICE)
    with pytest.raises(ValidationError, match="NaN"):
        store.apply([Change(record=good, vector=[1.0] * 8),
                     Change(record=bad, vector=[float("nan")] + [0.0] * 7)])
    assert store.count(ALICE, include_deleted=True) == 0  # the whole batch was refused
    with pytest.raises(ValidationError, match="NaN"):
        store.search([float("inf")] + [0.0] * 7, ALICE)


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, [1, 2**70], {"deep": 2**64}])
def test_integers_beyond_64_bits_are_a_validation_error_before_writing(
    store: MilvusVectorStore, value: object
) -> None:
    # the JSON field is 64-bit: the server's refusal came back as a *retryable*
    # ProviderError, though no retry can succeed
    good = MemoryRecord(text="good", scope=ALICE)
    bad = MemoryRecord(text="bad", scope=ALICE, metadata={"n": value})
    with pytest.raises(ValidationError, match="64 bits"):
        store.apply([Change(record=good, vector=[1.0] * 8), Change(record=bad, vector=[0.0] * 7 + [1.0])])
    assert store.count(ALICE, include_deleted=True) == 0  # the whole batch was refused
    edge = MemoryRecord(text="edge", scope=ALICE, metadata={"max": 2**63 - 1, "min": -(2**63)})
    store.apply([Change(record=edge, vector=[1.0] * 8)])
    [kept] = store.get([edge.id], ALICE)
    assert kept.metadata == {"max": 2**63 - 1, "min": -(2**63)}


def test_non_finite_metadata_is_refused_not_stored_as_null(store: MilvusVectorStore) -> None:
    bad = MemoryRecord(text="bad", scope=ALICE, metadata={"score": float("nan")})
    with pytest.raises(ValidationError, match="NaN or infinity"):
        store.apply([Change(record=bad, vector=[1.0] * 8)])
    assert store.count(ALICE, include_deleted=True) == 0
