"""The shared contract against a real Weaviate: runs only when WEAVIATE_URL is set
(WEAVIATE_API_KEY for authenticated servers and Weaviate Cloud)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from memplane_conformance import VectorStoreContract
from memplane_weaviate.store import WeaviateVectorStore
from memplane_weaviate.testing import live_config

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(live_config() is None,
                       reason="set WEAVIATE_URL (and WEAVIATE_API_KEY) to run against a real Weaviate"),
]


def _live_factory(scoping: str) -> Iterator[Callable[[], WeaviateVectorStore]]:
    made: list[WeaviateVectorStore] = []

    def make() -> WeaviateVectorStore:
        name = f"MemplaneLive{uuid.uuid4().hex[:12]}"
        store = WeaviateVectorStore(live_config(collection=name, scoping=scoping))
        made.append(store)
        return store

    yield make
    for store in made:  # drop what the run created on the real server
        store.close()
        cleaner = WeaviateVectorStore(store.config)
        try:
            cleaner.drop()
        finally:
            cleaner.close()


class TestLiveWeaviateTenants(VectorStoreContract):
    @pytest.fixture
    def store_factory(self) -> Iterator[Callable[[], WeaviateVectorStore]]:
        yield from _live_factory("tenant")


class TestLiveWeaviateFilter(VectorStoreContract):
    @pytest.fixture
    def store_factory(self) -> Iterator[Callable[[], WeaviateVectorStore]]:
        yield from _live_factory("filter")
