"""The loopback Weaviate itself: it must refuse what a real server refuses, or the
plugin's conformance run against it would prove nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import weaviate
import weaviate.classes as wvc
from weaviate.classes.query import Filter, MetadataQuery
from weaviate.exceptions import WeaviateBaseError

from memplane_weaviate.testing import WeaviateLoopback


def _connect(server: WeaviateLoopback, api_key: str | None = None) -> Any:
    return weaviate.connect_to_custom(
        http_host="127.0.0.1", http_port=server.http_port, http_secure=False,
        grpc_host="127.0.0.1", grpc_port=server.grpc_port, grpc_secure=False,
        auth_credentials=wvc.init.Auth.api_key(api_key) if api_key else None,
    )


@pytest.fixture
def client(server: WeaviateLoopback) -> Iterator[Any]:
    c = _connect(server)
    yield c
    for name in list(server.db.collections):
        if name.startswith("Probe"):
            c.collections.delete(name)
    c.close()


def _collection(client: Any, name: str, *, tenants: bool = False) -> Any:
    client.collections.create_from_dict({
        "class": name, "vectorizer": "none",
        "properties": [
            {"name": "text", "dataType": ["text"]},
            {"name": "n", "dataType": ["number"]},
            {"name": "tag", "dataType": ["text"], "tokenization": "field"},
        ],
        "multiTenancyConfig": {"enabled": tenants},
    })
    return client.collections.get(name)


def test_multi_tenant_collection_refuses_requests_without_tenant(client: Any) -> None:
    coll = _collection(client, "ProbeMt", tenants=True)
    with pytest.raises(WeaviateBaseError, match="without tenant"):
        coll.query.fetch_objects(limit=1)
    with pytest.raises(WeaviateBaseError, match="tenant not found"):
        coll.with_tenant("nobody").query.fetch_objects(limit=1)
    coll.tenants.create([wvc.tenants.Tenant(name="a")])
    assert coll.with_tenant("a").query.fetch_objects(limit=1).objects == []


def test_unknown_property_and_wrong_value_type_are_refused(client: Any) -> None:
    coll = _collection(client, "ProbeTypes")
    with pytest.raises(WeaviateBaseError, match="no such prop"):
        coll.query.fetch_objects(filters=Filter.by_property("nope").equal("x"))
    with pytest.raises(WeaviateBaseError, match="does not accept"):
        coll.query.fetch_objects(filters=Filter.by_property("n").equal("five"))
    with pytest.raises(WeaviateBaseError, match="no such prop"):
        coll.data.insert_many([wvc.data.DataObject(properties={"undeclared": "x"})])


def test_vectors_must_keep_one_size(client: Any) -> None:
    coll = _collection(client, "ProbeDims")
    assert not coll.data.insert_many([wvc.data.DataObject(properties={"text": "a"},
                                                          vector=[1.0, 0.0])]).errors
    with pytest.raises(WeaviateBaseError, match="length"):
        coll.data.insert_many([wvc.data.DataObject(properties={"text": "b"},
                                                   vector=[1.0, 0.0, 0.0])])


def test_search_semantics(client: Any) -> None:
    coll = _collection(client, "ProbeSearch")
    coll.data.insert_many([
        wvc.data.DataObject(properties={"text": "golden retriever", "n": 1.0, "tag": " x "},
                            vector=[1.0, 0.0]),
        wvc.data.DataObject(properties={"text": "oolong tea", "n": 2.0}, vector=[0.0, 1.0]),
    ])
    near = coll.query.near_vector([1.0, 0.0], limit=2,
                                  return_metadata=MetadataQuery(distance=True))
    assert [o.properties["text"] for o in near.objects] == ["golden retriever", "oolong tea"]
    assert near.objects[0].metadata.distance == pytest.approx(0.0, abs=1e-6)
    assert near.objects[1].metadata.distance == pytest.approx(1.0, abs=1e-6)
    bm25 = coll.query.bm25("retriever", return_metadata=MetadataQuery(score=True))
    assert [o.properties["text"] for o in bm25.objects] == ["golden retriever"]
    assert bm25.objects[0].metadata.score > 0
    # field tokenization trims whitespace, as Weaviate's does
    trimmed = coll.query.fetch_objects(filters=Filter.by_property("tag").equal("x"))
    assert len(trimmed.objects) == 1
    # a missing property is no match; Not is the complement
    assert len(coll.query.fetch_objects(filters=Filter.by_property("tag").equal("y")).objects) == 0
    assert len(coll.query.fetch_objects(
        filters=Filter.not_(Filter.by_property("tag").equal("x"))).objects) == 1
    assert coll.aggregate.over_all(total_count=True).total_count == 2


def test_api_key_is_required_when_configured() -> None:
    with WeaviateLoopback(api_key="sesame") as secured:
        with pytest.raises(WeaviateBaseError):
            _connect(secured, api_key="wrong")
        ok = _connect(secured, api_key="sesame")
        try:
            assert ok.collections.exists("Anything") is False
        finally:
            ok.close()
        headers = [c.metadata for c in secured.calls("GET /v1/meta")]
        assert any(h.get("authorization") == "Bearer sesame" for h in headers)


def test_requests_are_recorded(server: WeaviateLoopback, client: Any) -> None:
    coll = _collection(client, "ProbeRecorded")
    coll.query.fetch_objects(filters=Filter.by_property("tag").equal("z"), limit=3)
    [search] = [c for c in server.calls("Search") if c.request.collection == "ProbeRecorded"]
    assert search.request.limit == 3 and search.request.HasField("filters")
