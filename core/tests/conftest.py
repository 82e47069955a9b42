"""Shared fixtures: real providers only (scripted LLM, hashing embedder, and the
in-memory and sqlite stores). Nothing here needs torch or a network."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from memplane.embedders.hashing import HashingEmbedder
from memplane.llms.scripted import ScriptedLLM
from memplane.memory import Memory
from memplane.plugins.hooks import PluginManager
from memplane.providers.base import VectorStore
from memplane.stores.inmemory import InMemoryStore
from memplane.stores.sqlite import SQLiteStore

STORES = ["memory", "sqlite"]


def make_store(kind: str, tmp_path: Path) -> VectorStore:
    if kind == "memory":
        return InMemoryStore()
    return SQLiteStore({"path": str(tmp_path / "memplane.db")})


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def new_store(store_kind: str, tmp_path: Path) -> Callable[[str], VectorStore]:
    """Make further fresh stores of the parametrized kind (one sub-folder each)."""

    def make(name: str) -> VectorStore:
        folder = tmp_path / name
        folder.mkdir()
        return make_store(store_kind, folder)

    return make


@pytest.fixture
def store(store_kind: str, tmp_path: Path) -> Iterator[VectorStore]:
    s = make_store(store_kind, tmp_path)
    yield s
    s.close()


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder({"dimension": 256})


@pytest.fixture
def scripted() -> ScriptedLLM:
    return ScriptedLLM()


@pytest.fixture
def quiet_plugins() -> PluginManager:
    """No autoloaded hook plugins: tests see only what they register."""
    return PluginManager(autoload=False)


@pytest.fixture
def memory_factory(
    store: VectorStore, embedder: HashingEmbedder, quiet_plugins: PluginManager
) -> Iterator[Callable[..., Memory]]:
    """Build a Memory on the parametrized store; pass llm= and config overrides."""
    built: list[Memory] = []

    def build(llm: Any = None, **kwargs: Any) -> Memory:
        kwargs.setdefault("plugins", quiet_plugins)
        m = Memory(
            kwargs.pop("config", None),
            llm=llm or ScriptedLLM(),
            embedder=embedder,
            vector_store=store,
            **kwargs,
        )
        built.append(m)
        return m

    yield build
    for m in built:
        m.close()


@pytest.fixture
def scripted_memory(memory_factory: Callable[..., Memory], scripted: ScriptedLLM) -> Memory:
    return memory_factory(scripted)
