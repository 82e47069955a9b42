"""The provider base classes: config validation, capabilities, async defaults."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from memplane.errors import ConfigurationError, UnsupportedCapability
from memplane.providers import Embedder, ProviderConfig, Purpose, Vectors


class ToyConfig(ProviderConfig):
    size: int = 3


class ToyEmbedder(Embedder):
    name = "toy"
    Config = ToyConfig
    capabilities = frozenset({"query_document"})

    @property
    def dimension(self) -> int:
        return int(self.config.size)

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        return [[float(len(t))] * self.dimension for t in texts]


def test_config_is_validated_by_the_providers_own_model() -> None:
    assert ToyEmbedder({"size": 5}).dimension == 5
    assert ToyEmbedder(size=2).dimension == 2
    with pytest.raises(ConfigurationError, match=r"'toy'.*colour"):
        ToyEmbedder({"colour": "red"})
    with pytest.raises(ConfigurationError, match="size"):
        ToyEmbedder({"size": "big"})


def test_capabilities_are_checked() -> None:
    toy = ToyEmbedder()
    assert toy.has("query_document")
    with pytest.raises(UnsupportedCapability, match="async_native"):
        toy.require("async_native")


async def test_async_defaults_run_the_sync_method() -> None:
    assert await ToyEmbedder().aembed(["ab"]) == [[2.0, 2.0, 2.0]]


def test_an_unknown_capability_fails_when_the_class_is_defined() -> None:
    """A typo must not silently switch a feature off: the set is closed."""
    from memplane.providers import Capability, Reranker, RerankResult

    with pytest.raises(ConfigurationError, match=r"'keyword_serach'.*valid ones: keyword_search"):
        class Typo(Reranker):  # defining it is the test
            capabilities = frozenset({"keyword_serach"})

    class Fine(Reranker):
        capabilities = frozenset({"async_native"})

        def rerank(self, query: str, documents: Sequence[str], *,
                   top_n: int | None = None) -> list[RerankResult]:
            return []

    assert Fine.capabilities == frozenset({Capability.ASYNC_NATIVE})
    assert Fine().has("async_native") and Fine().has(Capability.ASYNC_NATIVE)
