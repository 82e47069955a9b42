"""Shared fixtures: one loopback Weaviate per test session, one collection per store."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from memplane_weaviate.store import WeaviateVectorStore
from memplane_weaviate.testing import WeaviateLoopback

_counter = itertools.count()


@pytest.fixture(scope="session")
def server() -> Iterator[WeaviateLoopback]:
    with WeaviateLoopback() as loopback:
        yield loopback


@pytest.fixture
def make_store(server: WeaviateLoopback) -> Iterator[Callable[..., WeaviateVectorStore]]:
    """Fresh, unopened stores, each on its own collection."""
    made: list[WeaviateVectorStore] = []

    def make(**config: object) -> WeaviateVectorStore:
        store = WeaviateVectorStore(server.store_config(collection=f"T{next(_counter)}", **config))
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
        with server.db.lock:
            server.db.delete_collection(store.config.collection)
