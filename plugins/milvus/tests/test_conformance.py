"""The shared vector-store contract, run on Milvus Lite (in-process)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from memplane_milvus.store import MilvusVectorStore

from memplane_conformance import VectorStoreContract


class TestMilvusLiteConformance(VectorStoreContract):
    @pytest.fixture
    def store_factory(
        self, make_store: Callable[..., MilvusVectorStore]
    ) -> Callable[[], MilvusVectorStore]:
        return make_store
