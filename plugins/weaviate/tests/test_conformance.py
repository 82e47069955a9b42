"""The shared vector-store contract against the loopback Weaviate (real
weaviate-client, real REST and gRPC), in both scoping modes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from memplane_weaviate.store import WeaviateVectorStore

from memplane_conformance import VectorStoreContract


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
