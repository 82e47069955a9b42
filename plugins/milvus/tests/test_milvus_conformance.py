"""The shared vector-store contract, run on Milvus Lite (in-process)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from memplane_conformance import MemoryContract, VectorStoreContract
from memplane_milvus.store import MilvusVectorStore


class TestMilvusLiteConformance(VectorStoreContract):
    @pytest.fixture
    def store_factory(
        self, make_store: Callable[..., MilvusVectorStore]
    ) -> Callable[[], MilvusVectorStore]:
        return make_store


class TestMemoryOnMilvusLite(MemoryContract):
    """``Memory`` ADD/UPDATE/DELETE/NONE scenarios with this store underneath."""

    @pytest.fixture
    def store_factory(
        self, make_store: Callable[..., MilvusVectorStore]
    ) -> Callable[[], MilvusVectorStore]:
        return make_store
