"""Zero-code mode for ``--memplane-provider vector_stores:NAME``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from memplane.providers.base import VectorStore
from memplane_conformance.memory_contract import MemoryContract
from memplane_conformance.plugin import Target
from memplane_conformance.vector_store import VectorStoreContract


@pytest.fixture
def store_factory(
    memplane_target: Target, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], VectorStore]]:
    made: list[VectorStore] = []

    def make() -> VectorStore:
        store: VectorStore = memplane_target.harness.create(tmp_path_factory.mktemp("store"))
        made.append(store)
        return store

    yield make
    for store in made:
        memplane_target.harness.cleanup(store)


class TestVectorStore(VectorStoreContract):
    pass




class TestMemoryWithVectorStore(MemoryContract):
    pass
