"""The shared vector-store contract against the loopback Weaviate (real
weaviate-client, real REST and gRPC), in both scoping modes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from memplane_conformance import MemoryContract, VectorStoreContract
from memplane_weaviate.store import WeaviateVectorStore


class TestWeaviateTenantScoping(VectorStoreContract):
    @pytest.fixture
    def store_factory(
        self, make_store: Callable[..., WeaviateVectorStore]
    ) -> Callable[[], WeaviateVectorStore]:
        return lambda: make_store(scoping="tenant")


class TestWeaviateFilterScoping(VectorStoreContract):
    @pytest.fixture
    def store_factory(
        self, make_store: Callable[..., WeaviateVectorStore]
    ) -> Callable[[], WeaviateVectorStore]:
        return lambda: make_store(scoping="filter")


class TestMemoryOnWeaviate(MemoryContract):
    """``Memory`` ADD/UPDATE/DELETE/NONE scenarios with this store underneath."""

    @pytest.fixture
    def store_factory(
        self, make_store: Callable[..., WeaviateVectorStore]
    ) -> Callable[[], WeaviateVectorStore]:
        return make_store
