"""Shared fixtures: one Milvus Lite database file per test session (starting Milvus
Lite takes a moment), one fresh collection per store."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from memplane_milvus.store import MilvusVectorStore

_counter = itertools.count()


@pytest.fixture(scope="session")
def lite_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("milvus") / "memplane_test.db")


@pytest.fixture
def make_store(lite_uri: str) -> Iterator[Callable[..., MilvusVectorStore]]:
    """Fresh, unopened stores, each on its own collection; dropped afterwards."""
    made: list[MilvusVectorStore] = []

    def make(**config: object) -> MilvusVectorStore:
        settings = {"uri": lite_uri, "collection": f"t{next(_counter)}", **config}
        store = MilvusVectorStore(settings)
        made.append(store)
        return store

    yield make
    for store in made:
        _drop(store)


def _drop(store: MilvusVectorStore) -> None:
    from pymilvus import MilvusClient

    client = MilvusClient(uri=store.config.uri)
    try:
        if client.has_collection(store.config.collection):
            client.drop_collection(store.config.collection)
    finally:
        client.close()
        store.close()


@pytest.fixture
def store(make_store: Callable[..., MilvusVectorStore]) -> MilvusVectorStore:
    s = make_store()
    s.open(8)
    return s


def lite_path(tmp: Path) -> str:
    return str(tmp / "x.db")
