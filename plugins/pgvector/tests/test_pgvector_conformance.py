"""The shared contracts, run on a real PostgreSQL with pgvector."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from memplane_conformance import FilterSemanticsContract, MemoryContract, VectorStoreContract
from memplane_pgvector.store import PgVectorStore
from memplane_pgvector.testing import drop_schema, fresh_schema


class TestPgVectorConformance(VectorStoreContract):
    @pytest.fixture
    def store_factory(self, make_store: Callable[..., PgVectorStore]) -> Callable[[], PgVectorStore]:
        return make_store


class TestPgVectorHnswConformance(VectorStoreContract):
    """The same contract with every search going through the HNSW index."""

    @pytest.fixture
    def store_factory(self, make_store: Callable[..., PgVectorStore]) -> Callable[[], PgVectorStore]:
        return lambda: make_store(exact_search_max_rows=0)


class TestMemoryOnPgVector(MemoryContract):
    @pytest.fixture
    def store_factory(self, make_store: Callable[..., PgVectorStore]) -> Callable[[], PgVectorStore]:
        return make_store


class TestPgVectorFilterSemantics(FilterSemanticsContract):
    @pytest.fixture(scope="class")
    @classmethod
    def filter_semantics_store(cls, pg_dsn: str) -> Iterator[PgVectorStore]:
        store = PgVectorStore({"dsn": pg_dsn, "db_schema": fresh_schema(), "pool_min_size": 0})
        yield store
        store.close()
        drop_schema(pg_dsn, store.config.db_schema)
