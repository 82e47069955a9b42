"""The shared contract, in subclass mode, on the example store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from memplane_conformance import MemoryContract, VectorStoreContract
from memplane_example_dict.store import ExampleDictStore


@pytest.fixture
def store_factory(tmp_path: Path) -> Iterator[Callable[[], ExampleDictStore]]:
    made: list[ExampleDictStore] = []

    def make() -> ExampleDictStore:
        store = ExampleDictStore({"path": str(tmp_path / f"store{len(made)}.json")})
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


class TestExampleDictStore(VectorStoreContract):
    pass


class TestExampleDictMemory(MemoryContract):
    pass
