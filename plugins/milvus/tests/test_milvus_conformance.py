"""The shared vector-store contract, run on Milvus Lite (in-process)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from memplane_conformance import MemoryContract, VectorStoreContract
from memplane_milvus.store import MilvusVectorStore


class TestMilvusLiteConformance(VectorStoreContract):
    @pytest.fixture
    def store_factory(
        self, make_store: Callable[..., MilvusVectorStore], tmp_path: Path
    ) -> Callable[[], MilvusVectorStore]:
        # One Lite file per test, as the zero-code harness does: Milvus Lite locks its
        # file for the process that opened it first, and the persistent test reopens the
        # store in child processes. On the session's shared file it passed only while it
        # ran before every other test of this class.
        uri = str(tmp_path / "milvus.db")
        return lambda: make_store(uri=uri)


class TestMemoryOnMilvusLite(MemoryContract):
    """``Memory`` ADD/UPDATE/DELETE/NONE scenarios with this store underneath."""

    @pytest.fixture
    def store_factory(
        self, make_store: Callable[..., MilvusVectorStore]
    ) -> Callable[[], MilvusVectorStore]:
        return make_store
