"""The provider contract."""

from memplane.providers.base import (
    BASE_CLASSES,
    CONTRACT_VERSION,
    KINDS,
    LLM,
    Embedder,
    Kind,
    LLMResponse,
    Provider,
    ProviderConfig,
    Purpose,
    Reranker,
    RerankResult,
    Vectors,
    VectorStore,
)

__all__ = [
    "BASE_CLASSES",
    "CONTRACT_VERSION",
    "KINDS",
    "LLM",
    "Embedder",
    "Kind",
    "LLMResponse",
    "Provider",
    "ProviderConfig",
    "Purpose",
    "RerankResult",
    "Reranker",
    "VectorStore",
    "Vectors",
]
