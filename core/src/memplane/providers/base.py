"""The provider contract: one typed base class per kind.

A provider subclasses one of :class:`LLM`, :class:`Embedder`, :class:`VectorStore`,
:class:`Reranker`, names a pydantic ``Config`` model, declares ``capabilities``, and
implements the abstract sync methods. Async methods default to running the sync one
in a worker thread; providers whose SDK has native async override them and declare
the ``async_native`` capability.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from memplane.errors import ConfigurationError, UnsupportedCapability
from memplane.filters import Filter
from memplane.models import (
    Change,
    ChatMessage,
    HistoryEntry,
    MemoryRecord,
    Page,
    Scope,
    SearchHit,
    Usage,
)

#: The contract version this core speaks. A plugin declares the version it
#: implements; core refuses to load one that differs.
CONTRACT_VERSION = 1

Kind = Literal["llms", "embedders", "vector_stores", "rerankers"]
KINDS: tuple[Kind, ...] = ("llms", "embedders", "vector_stores", "rerankers")

Vectors = Sequence[Sequence[float]]


class ProviderConfig(BaseModel):
    """Base of every provider's config model. Unknown keys are errors, not ignored."""

    model_config = ConfigDict(extra="forbid")


class Provider(ABC):
    """Common behaviour of every provider kind."""

    kind: ClassVar[Kind]
    #: the name the provider is registered under (the entry-point name).
    name: ClassVar[str] = ""
    Config: ClassVar[type[ProviderConfig]] = ProviderConfig
    contract_version: ClassVar[int] = CONTRACT_VERSION
    #: capability names this provider implements; see each kind for the vocabulary.
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config: ProviderConfig | Mapping[str, Any] | None = None, **overrides: Any):
        self.config = self.validate_config(config, **overrides)

    @classmethod
    def validate_config(
        cls, config: ProviderConfig | Mapping[str, Any] | None = None, **overrides: Any
    ) -> Any:
        """Validate a config block with this provider's own model."""
        if isinstance(config, cls.Config) and not overrides:
            return config
        data: dict[str, Any] = {}
        if isinstance(config, BaseModel):
            data.update(config.model_dump(exclude_unset=True))
        elif config is not None:
            data.update(config)
        data.update(overrides)
        try:
            return cls.Config.model_validate(data)
        except PydanticValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigurationError(
                f"invalid config for {cls.kind} provider {cls.name or cls.__name__!r}: {problems}"
            ) from None

    def has(self, capability: str) -> bool:
        return capability in self.capabilities

    def require(self, capability: str) -> None:
        if capability not in self.capabilities:
            raise UnsupportedCapability(
                f"{self.kind} provider {self.name!r} does not support {capability!r}"
            )

    def close(self) -> None:  # noqa: B027 - optional hook, most providers hold nothing
        """Release connections and files. Safe to call twice."""

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)


# --- LLMs -------------------------------------------------------------------------


class LLMResponse(BaseModel):
    """What an LLM call returns.

    ``text`` is the raw text; ``structured`` holds already-parsed JSON when the
    provider obtained it natively (structured output, a forced tool call).
    """

    text: str = ""
    structured: dict[str, Any] | None = None
    usage: Usage = Usage()
    model: str | None = None
    finish_reason: str | None = None


class LLM(Provider):
    """A chat model that can answer with JSON matching a schema.

    Capabilities: ``json_schema`` (enforces the schema natively: strict structured
    output or a forced tool call), ``json_mode`` (guarantees JSON but not the schema),
    ``async_native``. Without either JSON capability the core parses text tolerantly.
    Errors must be mapped to :mod:`memplane.errors` (AuthenticationError,
    RateLimitError, ProviderTimeout, ProviderError with ``retryable``).
    """

    kind: ClassVar[Kind] = "llms"

    @abstractmethod
    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "response",
        max_tokens: int | None = None,
    ) -> LLMResponse:
        """Answer the conversation; follow ``json_schema`` when given."""

    async def agenerate(
        self,
        messages: Sequence[ChatMessage],
        *,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "response",
        max_tokens: int | None = None,
    ) -> LLMResponse:
        return await asyncio.to_thread(
            self.generate,
            messages,
            json_schema=json_schema,
            schema_name=schema_name,
            max_tokens=max_tokens,
        )


# --- Embedders --------------------------------------------------------------------

Purpose = Literal["document", "query"]


class Embedder(Provider):
    """Turns texts into fixed-size vectors.

    ``embed`` returns one vector per input, in order, each of length ``dimension``.
    ``purpose`` lets models that embed queries and documents differently do so.
    Capabilities: ``query_document`` (purpose changes the vector), ``async_native``.
    """

    kind: ClassVar[Kind] = "embedders"

    @property
    @abstractmethod
    def dimension(self) -> int:
        """Length of every vector this embedder returns."""

    @abstractmethod
    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        """Embed a batch of texts."""

    async def aembed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        return await asyncio.to_thread(self.embed, texts, purpose=purpose)


# --- Vector stores ----------------------------------------------------------------


class VectorStore(Provider):
    """Stores memory records beside their vectors, with their history.

    Every read and write takes a ``scope``; a store must only touch records that the
    scope matches (:meth:`memplane.models.Scope.matches`). ``filters`` are evaluated
    completely or refused with :class:`~memplane.errors.UnsupportedFilter`.
    ``include_deleted`` / ``include_expired`` default to hiding soft-deleted and
    expired records.

    Capabilities: ``keyword_search`` (BM25-like :meth:`keyword_search`),
    ``persistent`` (data survives close and reopen), ``atomic_apply`` (a batch of
    changes with their history lands all or nothing), ``concurrent_writers``
    (several processes may write), ``async_native``, ``vector_read``
    (:meth:`get_vectors` returns stored vectors).
    ``filter_operators`` lists the filter operators and logical nodes it evaluates.
    """

    kind: ClassVar[Kind] = "vector_stores"
    filter_operators: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def open(self, dimension: int) -> None:
        """Create or attach to the collection for ``dimension``-sized vectors.

        Raise :class:`~memplane.errors.DimensionMismatch` if it already holds another size.
        """

    @abstractmethod
    def apply(self, changes: Sequence[Change]) -> None:
        """Upsert each change's record (and vector when given) and append its history
        entry. Upserting an existing id replaces it; a change with ``vector=None`` keeps
        the stored vector."""

    @abstractmethod
    def get(self, ids: Sequence[str], scope: Scope, *, include_deleted: bool = True) -> list[MemoryRecord]:
        """Records with these ids that the scope matches (missing ids are skipped)."""

    @abstractmethod
    def list_records(
        self,
        scope: Scope,
        *,
        filters: Filter | None = None,
        limit: int = 100,
        cursor: str | None = None,
        include_deleted: bool = False,
        include_expired: bool = False,
    ) -> Page:
        """A page of records in a stable order; every record appears exactly once
        across pages, even under concurrent inserts of new records."""

    @abstractmethod
    def count(
        self,
        scope: Scope,
        *,
        filters: Filter | None = None,
        include_deleted: bool = False,
        include_expired: bool = False,
    ) -> int:
        """How many records the scope and filters match."""

    @abstractmethod
    def search(
        self,
        vector: Sequence[float],
        scope: Scope,
        *,
        limit: int = 10,
        filters: Filter | None = None,
        include_deleted: bool = False,
        include_expired: bool = False,
    ) -> list[SearchHit]:
        """Nearest records by cosine similarity, best first, score = (1 + cos) / 2."""

    def keyword_search(
        self,
        query: str,
        scope: Scope,
        *,
        limit: int = 10,
        filters: Filter | None = None,
        include_deleted: bool = False,
        include_expired: bool = False,
    ) -> list[SearchHit]:
        """Best keyword matches first, scores in [0, 1]. Needs ``keyword_search``."""
        self.require("keyword_search")
        raise NotImplementedError  # pragma: no cover - providers declaring it override

    def get_vectors(self, ids: Sequence[str], scope: Scope) -> dict[str, list[float]]:
        """Stored vectors of these ids that the scope matches (missing ids skipped).
        Needs ``vector_read``; `memplane export --vectors` uses it."""
        self.require("vector_read")
        raise NotImplementedError  # pragma: no cover - providers declaring it override

    @abstractmethod
    def delete(self, ids: Sequence[str], scope: Scope) -> int:
        """Hard-delete records and their history; returns how many were removed."""

    @abstractmethod
    def history(self, memory_id: str, scope: Scope) -> list[HistoryEntry]:
        """The history of one memory, oldest first (empty if the scope does not match)."""

    @abstractmethod
    def reset(self) -> None:
        """Remove every record and history entry of every scope."""

    # async mirrors --------------------------------------------------------------
    async def aopen(self, dimension: int) -> None:
        await asyncio.to_thread(self.open, dimension)

    async def aapply(self, changes: Sequence[Change]) -> None:
        await asyncio.to_thread(self.apply, changes)

    async def aget(self, ids: Sequence[str], scope: Scope, *, include_deleted: bool = True) -> list[MemoryRecord]:
        return await asyncio.to_thread(self.get, ids, scope, include_deleted=include_deleted)

    async def alist_records(self, scope: Scope, **kwargs: Any) -> Page:
        return await asyncio.to_thread(lambda: self.list_records(scope, **kwargs))

    async def acount(self, scope: Scope, **kwargs: Any) -> int:
        return await asyncio.to_thread(lambda: self.count(scope, **kwargs))

    async def asearch(self, vector: Sequence[float], scope: Scope, **kwargs: Any) -> list[SearchHit]:
        return await asyncio.to_thread(lambda: self.search(vector, scope, **kwargs))

    async def akeyword_search(self, query: str, scope: Scope, **kwargs: Any) -> list[SearchHit]:
        return await asyncio.to_thread(lambda: self.keyword_search(query, scope, **kwargs))

    async def adelete(self, ids: Sequence[str], scope: Scope) -> int:
        return await asyncio.to_thread(self.delete, ids, scope)

    async def ahistory(self, memory_id: str, scope: Scope) -> list[HistoryEntry]:
        return await asyncio.to_thread(self.history, memory_id, scope)

    async def areset(self) -> None:
        await asyncio.to_thread(self.reset)


# --- Rerankers --------------------------------------------------------------------


class RerankResult(BaseModel):
    index: int
    score: float


class Reranker(Provider):
    """Reorders candidate documents for a query.

    Returns at most ``top_n`` results (all when None), best first, each with the
    index of the input document and a score in [0, 1]; equal scores keep input order.
    Capabilities: ``async_native``.
    """

    kind: ClassVar[Kind] = "rerankers"

    @abstractmethod
    def rerank(self, query: str, documents: Sequence[str], *, top_n: int | None = None) -> list[RerankResult]:
        """Score and order ``documents`` for ``query``."""

    async def arerank(self, query: str, documents: Sequence[str], *, top_n: int | None = None) -> list[RerankResult]:
        return await asyncio.to_thread(self.rerank, query, documents, top_n=top_n)


BASE_CLASSES: dict[Kind, type[Provider]] = {
    "llms": LLM,
    "embedders": Embedder,
    "vector_stores": VectorStore,
    "rerankers": Reranker,
}
