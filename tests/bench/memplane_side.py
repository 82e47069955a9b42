"""How the benchmarks build memplane: providers, a zero-cost embedder, timed wrappers."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from memplane.llms.scripted import ScriptedLLM
from memplane.models import ChatMessage
from memplane.providers.base import (
    Embedder,
    LLMResponse,
    ProviderConfig,
    Purpose,
    Vectors,
    VectorStore,
)
from tests.bench.vectors import VectorTable

DIMENSION = 384


class TableEmbedder(Embedder):
    """Looks precomputed vectors up instead of running a model (see VectorTable)."""

    name: ClassVar[str] = "bench_table"

    def __init__(self, table: VectorTable) -> None:
        super().__init__()
        self.table = table
        self.seconds = 0.0

    @property
    def dimension(self) -> int:
        return self.table.dimension

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        start = time.perf_counter()
        out = [self.table.get(t) for t in texts]
        self.seconds += time.perf_counter() - start
        return out


class TimedEmbedder(Embedder):
    """Delegates to a real embedder and keeps the time spent in it."""

    name: ClassVar[str] = "bench_timed"

    def __init__(self, inner: Embedder) -> None:
        super().__init__()
        self.inner = inner
        self.seconds = 0.0

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        start = time.perf_counter()
        try:
            return self.inner.embed(texts, purpose=purpose)
        finally:
            self.seconds += time.perf_counter() - start


class TimedScriptedLLM(ScriptedLLM):
    """The zero-latency scripted LLM, keeping the (tiny) time spent inside it."""

    def __init__(self, config: ProviderConfig | dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.seconds = 0.0

    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "response",
        max_tokens: int | None = None,
    ) -> LLMResponse:
        start = time.perf_counter()
        try:
            return super().generate(
                messages, json_schema=json_schema, schema_name=schema_name, max_tokens=max_tokens
            )
        finally:
            self.seconds += time.perf_counter() - start


def sqlite_store(path: Path) -> VectorStore:
    from memplane.stores.sqlite import SQLiteStore

    return SQLiteStore({"path": str(path)})


def milvus_store(path: Path) -> VectorStore | None:
    """Milvus Lite through the memplane_milvus plugin, or None when not installed."""
    try:
        from memplane.plugins.registry import create_provider

        store = create_provider(
            "vector_stores", {"provider": "milvus", "config": {"uri": str(path)}}
        )
    except Exception as exc:  # the plugin may be absent or broken; the bench goes on
        print(f"milvus store unavailable: {exc}")
        return None
    assert isinstance(store, VectorStore)
    return store


def sentence_embedder() -> Embedder:
    from memplane_sentence_transformers.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


def make_memory(
    *,
    store: VectorStore,
    embedder: Embedder,
    llm: ScriptedLLM | None = None,
    search: dict[str, Any] | None = None,
) -> Any:
    from memplane.config import MemoryConfig
    from memplane.memory import Memory

    config = MemoryConfig(search=search or {})
    return Memory(config, llm=llm or TimedScriptedLLM(), embedder=embedder, vector_store=store)
