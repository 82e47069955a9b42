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
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError
from typing_extensions import TypeVar

from memplane.errors import ConfigurationError, UnsupportedCapability, ValidationError
from memplane.filters import Filter, parse_filter, require_supported
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
from memplane.providers import store_checks as checks
from memplane.providers.identity import EmbedderIdentity

#: The contract version this core speaks. A plugin declares the version it
#: implements; core refuses to load one that differs.
CONTRACT_VERSION = 2

Kind = Literal["llms", "embedders", "vector_stores", "rerankers"]
KINDS: tuple[Kind, ...] = ("llms", "embedders", "vector_stores", "rerankers")

Vectors = Sequence[Sequence[float]]


class Embedded(list[list[float]]):
    """An embedder's vectors with the ``usage`` they cost (API calls, input tokens);
    embedders return this instead of keeping counters on themselves."""

    def __init__(self, vectors: list[list[float]] | None = None, *, usage: Usage | None = None) -> None:
        super().__init__(vectors or [])
        self.usage = usage if usage is not None else Usage()


class Capability(StrEnum):
    """The closed set of capabilities a provider may declare (checked at class definition)."""

    KEYWORD_SEARCH = "keyword_search"
    PERSISTENT = "persistent"
    ATOMIC_APPLY = "atomic_apply"
    CONCURRENT_WRITERS = "concurrent_writers"
    ASYNC_NATIVE = "async_native"
    VECTOR_READ = "vector_read"
    JSON_SCHEMA = "json_schema"
    JSON_MODE = "json_mode"
    QUERY_DOCUMENT = "query_document"
    STORE_INFO = "store_info"
    CANDIDATE_SEARCH = "candidate_search"


def check_capabilities(owner: str, declared: object) -> frozenset[Capability]:
    """The declared capability names as :class:`Capability` members; an unknown
    name is a ConfigurationError naming the valid ones (a typo must not silently
    turn a feature off)."""
    if isinstance(declared, str) or not isinstance(declared, set | frozenset | list | tuple):
        raise ConfigurationError(f"{owner}.capabilities must be a set of capability names")
    out: set[Capability] = set()
    for name in declared:
        try:
            out.add(Capability(name))
        except ValueError:
            valid = ", ".join(c.value for c in Capability)
            raise ConfigurationError(
                f"{owner} declares unknown capability {name!r}; valid ones: {valid}"
            ) from None
    return frozenset(out)


class ProviderConfig(BaseModel):
    """Base of every provider's config model. Unknown keys are errors, not ignored."""

    model_config = ConfigDict(extra="forbid")


#: a provider's config model; unparametrised providers get Any (compatible with v1 code)
ConfigT = TypeVar("ConfigT", bound=ProviderConfig, default=Any)


class Provider(ABC, Generic[ConfigT]):
    """Common behaviour of every provider kind.

    ``Provider[MyConfig]`` (e.g. ``class MyStore(VectorStore[MyConfig])``) types
    ``self.config`` as ``MyConfig``; unparametrised subclasses keep an untyped config.
    """

    config: ConfigT

    kind: ClassVar[Kind]
    #: the name the provider is registered under (the entry-point name).
    name: ClassVar[str] = ""
    Config: ClassVar[type[ProviderConfig]] = ProviderConfig
    contract_version: ClassVar[int] = CONTRACT_VERSION
    #: capabilities this provider implements (:class:`Capability` members or their names).
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # checked when the class is defined, i.e. when its plugin is loaded
        cls.capabilities = check_capabilities(cls.__qualname__, cls.__dict__.get(
            "capabilities", cls.capabilities))

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

    def close(self) -> None:
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


class LLM(Provider[ConfigT]):
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


class Embedder(Provider[ConfigT]):
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

    @property
    def model_name(self) -> str | None:
        """The model whose vectors this embedder makes: the config's ``model`` when it
        has one. Override it when another setting picks the model, or when the
        provider has one fixed model (a store records it, see :meth:`identity`)."""
        model = getattr(self.config, "model", None)
        return str(model) if model else None

    def identity(self) -> EmbedderIdentity:
        """Provider, model and dimension: a store records it with its first vectors
        and memplane refuses an embedder with another identity on that store."""
        return EmbedderIdentity(provider=self.name or type(self).__name__,
                                model=self.model_name, dimension=self.dimension)

    async def aembed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> Vectors:
        return await asyncio.to_thread(self.embed, texts, purpose=purpose)


# --- Vector stores ----------------------------------------------------------------


class LightHit(NamedTuple):
    """A search hit without its record: the id, the score, and the few fields of the
    record that fusion reads (the text for keyword coverage, explain and reranking; the
    scope for the caller's own scope check; the two times recency and ordering use).
    ``Memory.search`` builds full records only for the results it returns. A named
    tuple: a search builds dozens, and a tuple is the cheapest immutable object."""

    id: str
    score: float
    text: str
    scope: Scope
    created_at: datetime
    observed_at: datetime | None = None

    @property
    def record(self) -> LightHit:
        """The hit's record fields (itself), so fusion reads a :class:`LightHit` and a
        :class:`~memplane.models.SearchHit` the same way."""
        return self

    @classmethod
    def of(cls, hit: SearchHit) -> LightHit:
        r = hit.record
        return cls(r.id, hit.score, r.text, r.scope, r.created_at, r.observed_at)


@dataclass(frozen=True, slots=True)
class Candidates:
    """What :meth:`VectorStore.search_candidates` returns: the vector signal's hits and
    the keyword signal's (None when keyword search was not asked for), best first."""

    vector: list[LightHit]
    keyword: list[LightHit] | None = None


class VectorStore(Provider[ConfigT]):
    """Stores memory records beside their vectors, with their history (contract v2).

    The public methods are implemented here, once: they check arguments (scope, limit,
    cursor, vector dimension and finiteness, each change of a batch) and then call the
    provider hooks ``_open``, ``_apply``, ``_get``, ``_list_records``, ``_count``,
    ``_search``, ``_keyword_search``, ``_get_vectors``, ``_delete``, ``_history`` and
    ``_reset``. The async mirrors call ``_aopen``, ``_aapply``, ..., which default to
    the sync hook in a worker thread. Providers implement hooks, never public methods.

    Every read and write takes a ``scope``; a store only touches records the scope
    matches (:meth:`memplane.models.Scope.matches`). ``filters`` are evaluated
    completely or refused with :class:`~memplane.errors.UnsupportedFilter`.

    ``_apply`` owns correctness under concurrency: inside its write lock or
    transaction it calls :func:`memplane.providers.store_checks.check_versions`
    (or enforces the same rule in its query language) before writing anything.

    Capabilities: see :class:`Capability` (``keyword_search``, ``persistent``,
    ``atomic_apply``, ``concurrent_writers``, ``async_native``, ``vector_read``,
    ``store_info``: a small key/value record of the store, hooks ``_get_info`` and
    ``_claim_info``, cleared by ``reset``; ``candidate_search``: the hook
    ``_search_candidates`` answers both signals of a hybrid search as light hits from
    one snapshot, see :meth:`search_candidates`).
    ``filter_operators`` lists the filter operators and logical nodes it evaluates.
    """

    kind: ClassVar[Kind] = "vector_stores"
    filter_operators: ClassVar[frozenset[str]] = frozenset()
    #: the dimension the store was opened with (base class bookkeeping for checks).
    _opened_dimension: int | None = None

    @property
    def location(self) -> str | None:
        """Where the store keeps its data (a file path or a server address), when its
        config says (``path``, ``uri``, ``url`` or ``host``); errors and doctor show it."""
        for key in ("path", "uri", "url", "host"):
            value = getattr(self.config, key, None)
            if isinstance(value, str) and value:
                return value
        return None

    # --- public API: checks, then the hook ------------------------------------------
    def open(self, dimension: int) -> None:
        """Create or attach to the collection for ``dimension``-sized vectors; raise
        :class:`~memplane.errors.DimensionMismatch` if it holds another size."""
        self._open(checks.check_dimension(dimension))
        self._opened_dimension = dimension

    def apply(self, changes: Sequence[Change]) -> None:
        """Write a batch of changes with their history entries, all checks first.

        ``expected_version=None`` creates (refused with Conflict / IdOwnedByAnotherScope
        when the id exists, DuplicateMemory when a live record of the scope has the
        hash); an int changes the stored record of exactly that version. A change with
        ``vector=None`` keeps the stored vector.
        """
        batch = self._checked_batch(changes)
        if batch:
            self._apply(batch)

    def get(self, ids: Sequence[str], scope: Scope, *, include_deleted: bool = True) -> list[MemoryRecord]:
        """Records with these ids that the scope matches (missing ids are skipped)."""
        unique = checks.check_ids(ids)
        return self._get(unique, scope.require("get"), include_deleted) if unique else []

    def list_records(
        self, scope: Scope, *, filters: Filter | None = None, limit: int = 100,
        cursor: str | None = None, include_deleted: bool = False, include_expired: bool = False,
    ) -> Page:
        """A page of records in a stable order; every record appears exactly once
        across pages, even under concurrent inserts of new records."""
        scope.require("list_records")
        return self._list_records(scope, self._filter(filters), checks.check_limit(limit),
                                  checks.check_cursor(cursor), include_deleted, include_expired)

    def count(
        self, scope: Scope, *, filters: Filter | None = None, include_deleted: bool = False,
        include_expired: bool = False,
    ) -> int:
        """How many records the scope and filters match."""
        scope.require("count")
        return self._count(scope, self._filter(filters), include_deleted, include_expired)

    def search(
        self, vector: Sequence[float], scope: Scope, *, limit: int = 10, filters: Filter | None = None,
        include_deleted: bool = False, include_expired: bool = False,
    ) -> list[SearchHit]:
        """Nearest records by cosine similarity, best first, score = (1 + cos) / 2."""
        scope.require("search")
        checks.check_query_vector(vector, self._opened_dimension)
        return self._search(vector, scope, checks.check_limit(limit), self._filter(filters),
                            include_deleted, include_expired)

    def keyword_search(
        self, query: str, scope: Scope, *, limit: int = 10, filters: Filter | None = None,
        include_deleted: bool = False, include_expired: bool = False,
    ) -> list[SearchHit]:
        """Best keyword matches first, scores in [0, 1]. Needs ``keyword_search``."""
        self.require(Capability.KEYWORD_SEARCH)
        scope.require("keyword_search")
        if not isinstance(query, str):
            raise ValidationError(f"keyword query must be a string, got {type(query).__name__}")
        return self._keyword_search(query, scope, checks.check_limit(limit), self._filter(filters),
                                    include_deleted, include_expired)

    def search_candidates(
        self, vector: Sequence[float], query: str, scope: Scope, *, limit: int = 10,
        filters: Filter | None = None, keyword: bool = True, include_deleted: bool = False,
        include_expired: bool = False,
    ) -> Candidates:
        """The vector hits of :meth:`search` and (with ``keyword``) the keyword hits of
        :meth:`keyword_search` for the same arguments, as :class:`LightHit` (no records).

        Same ids, order and scores as those two methods. A store declaring
        ``candidate_search`` answers from its ``_search_candidates`` hook, reading both
        signals from one snapshot and building no records; any other store gets this
        fallback, which calls ``_search`` and ``_keyword_search`` one after the other.
        """
        limit, tree, keyword = self._candidate_args(vector, query, scope, limit, filters, keyword)
        if self.has(Capability.CANDIDATE_SEARCH):
            return self._search_candidates(vector, query, scope, limit, tree, keyword,
                                           include_deleted, include_expired)
        hits = self._search(vector, scope, limit, tree, include_deleted, include_expired)
        found = (self._keyword_search(query, scope, limit, tree, include_deleted, include_expired)
                 if keyword else None)
        return _light(hits, found)

    def get_vectors(self, ids: Sequence[str], scope: Scope) -> dict[str, list[float]]:
        """Stored vectors of these ids that the scope matches (missing ids skipped).
        Needs ``vector_read``; `memplane export --vectors` uses it."""
        self.require(Capability.VECTOR_READ)
        unique = checks.check_ids(ids)
        return self._get_vectors(unique, scope.require("get_vectors")) if unique else {}

    def delete(self, ids: Sequence[str], scope: Scope) -> int:
        """Hard-delete records and their history; returns how many were removed."""
        unique = checks.check_ids(ids)
        return self._delete(unique, scope.require("delete")) if unique else 0

    def history(self, memory_id: str, scope: Scope) -> list[HistoryEntry]:
        """The history of one memory, oldest first (empty if the scope does not match)."""
        (memory_id,) = checks.check_ids([memory_id])
        return self._history(memory_id, scope.require("history"))

    def reset(self) -> None:
        """Remove every record and history entry of every scope, and the store info
        (:meth:`get_info`): an empty store takes any embedder."""
        self._reset()

    def get_info(self, key: str) -> str | None:
        """A value recorded in the store under ``key`` (None when none is). Needs
        ``store_info``; memplane records the embedder's identity under ``embedder``."""
        self.require(Capability.STORE_INFO)
        return self._get_info(checks.check_info_key(key))

    def claim_info(self, key: str, value: str) -> str:
        """Record ``value`` under ``key`` unless a value is already recorded, and return
        the recorded value. Of concurrent claims (threads or processes) exactly one
        value wins and every claimer gets that one back. Needs ``store_info``."""
        self.require(Capability.STORE_INFO)
        return self._claim_info(checks.check_info_key(key), checks.check_info_value(value))

    # async mirrors ----------------------------------------------------------------
    async def aopen(self, dimension: int) -> None:
        await self._aopen(checks.check_dimension(dimension))
        self._opened_dimension = dimension

    async def aapply(self, changes: Sequence[Change]) -> None:
        batch = self._checked_batch(changes)
        if batch:
            await self._aapply(batch)

    async def aget(self, ids: Sequence[str], scope: Scope, *, include_deleted: bool = True) -> list[MemoryRecord]:
        unique = checks.check_ids(ids)
        return await self._aget(unique, scope.require("get"), include_deleted) if unique else []

    async def alist_records(
        self, scope: Scope, *, filters: Filter | None = None, limit: int = 100,
        cursor: str | None = None, include_deleted: bool = False, include_expired: bool = False,
    ) -> Page:
        scope.require("list_records")
        return await self._alist_records(scope, self._filter(filters), checks.check_limit(limit),
                                         checks.check_cursor(cursor), include_deleted, include_expired)

    async def acount(
        self, scope: Scope, *, filters: Filter | None = None, include_deleted: bool = False,
        include_expired: bool = False,
    ) -> int:
        scope.require("count")
        return await self._acount(scope, self._filter(filters), include_deleted, include_expired)

    async def asearch(
        self, vector: Sequence[float], scope: Scope, *, limit: int = 10, filters: Filter | None = None,
        include_deleted: bool = False, include_expired: bool = False,
    ) -> list[SearchHit]:
        scope.require("search")
        checks.check_query_vector(vector, self._opened_dimension)
        return await self._asearch(vector, scope, checks.check_limit(limit), self._filter(filters),
                                   include_deleted, include_expired)

    async def akeyword_search(
        self, query: str, scope: Scope, *, limit: int = 10, filters: Filter | None = None,
        include_deleted: bool = False, include_expired: bool = False,
    ) -> list[SearchHit]:
        self.require(Capability.KEYWORD_SEARCH)
        scope.require("keyword_search")
        if not isinstance(query, str):
            raise ValidationError(f"keyword query must be a string, got {type(query).__name__}")
        return await self._akeyword_search(query, scope, checks.check_limit(limit),
                                           self._filter(filters), include_deleted, include_expired)

    async def asearch_candidates(
        self, vector: Sequence[float], query: str, scope: Scope, *, limit: int = 10,
        filters: Filter | None = None, keyword: bool = True, include_deleted: bool = False,
        include_expired: bool = False,
    ) -> Candidates:
        limit, tree, keyword = self._candidate_args(vector, query, scope, limit, filters, keyword)
        if self.has(Capability.CANDIDATE_SEARCH):
            return await self._asearch_candidates(vector, query, scope, limit, tree, keyword,
                                                  include_deleted, include_expired)
        hits = await self._asearch(vector, scope, limit, tree, include_deleted, include_expired)
        found = (await self._akeyword_search(query, scope, limit, tree, include_deleted,
                                             include_expired) if keyword else None)
        return _light(hits, found)

    async def aget_vectors(self, ids: Sequence[str], scope: Scope) -> dict[str, list[float]]:
        self.require(Capability.VECTOR_READ)
        unique = checks.check_ids(ids)
        return await self._aget_vectors(unique, scope.require("get_vectors")) if unique else {}

    async def adelete(self, ids: Sequence[str], scope: Scope) -> int:
        unique = checks.check_ids(ids)
        return await self._adelete(unique, scope.require("delete")) if unique else 0

    async def ahistory(self, memory_id: str, scope: Scope) -> list[HistoryEntry]:
        (memory_id,) = checks.check_ids([memory_id])
        return await self._ahistory(memory_id, scope.require("history"))

    async def areset(self) -> None:
        await self._areset()

    async def aget_info(self, key: str) -> str | None:
        self.require(Capability.STORE_INFO)
        return await self._aget_info(checks.check_info_key(key))

    async def aclaim_info(self, key: str, value: str) -> str:
        self.require(Capability.STORE_INFO)
        return await self._aclaim_info(checks.check_info_key(key), checks.check_info_value(value))

    # --- shared checks ----------------------------------------------------------------
    def _checked_batch(self, changes: Sequence[Change]) -> list[Change]:
        batch = list(changes)
        checks.check_batch(batch, self._opened_dimension)
        return batch

    def _candidate_args(
        self, vector: Sequence[float], query: str, scope: Scope, limit: int,
        filters: Filter | None, keyword: bool,
    ) -> tuple[int, Filter | None, bool]:
        """The checks of :meth:`search` and, with ``keyword``, of :meth:`keyword_search`;
        the checked limit, the parsed filter tree and ``keyword`` as a bool."""
        scope.require("search_candidates")
        checks.check_query_vector(vector, self._opened_dimension)
        keyword = bool(keyword)
        if keyword:
            self.require(Capability.KEYWORD_SEARCH)
            if not isinstance(query, str):
                raise ValidationError(f"keyword query must be a string, got {type(query).__name__}")
        return checks.check_limit(limit), self._filter(filters), keyword

    def _filter(self, filters: Filter | Mapping[str, Any] | None) -> Filter | None:
        node = parse_filter(filters)
        require_supported(node, self.filter_operators, self.name or type(self).__name__)
        return node

    # --- provider hooks -----------------------------------------------------------------
    @abstractmethod
    def _open(self, dimension: int) -> None: ...

    @abstractmethod
    def _apply(self, changes: list[Change]) -> None:
        """Write a checked, non-empty batch; run :func:`check_versions` first, under
        the same lock or transaction as the writes."""

    @abstractmethod
    def _get(self, ids: list[str], scope: Scope, include_deleted: bool) -> list[MemoryRecord]: ...

    @abstractmethod
    def _list_records(
        self, scope: Scope, filters: Filter | None, limit: int, cursor: str | None,
        include_deleted: bool, include_expired: bool,
    ) -> Page: ...

    @abstractmethod
    def _count(
        self, scope: Scope, filters: Filter | None, include_deleted: bool, include_expired: bool
    ) -> int: ...

    @abstractmethod
    def _search(
        self, vector: Sequence[float], scope: Scope, limit: int, filters: Filter | None,
        include_deleted: bool, include_expired: bool,
    ) -> list[SearchHit]: ...

    def _keyword_search(
        self, query: str, scope: Scope, limit: int, filters: Filter | None,
        include_deleted: bool, include_expired: bool,
    ) -> list[SearchHit]:
        raise NotImplementedError  # pragma: no cover - stores declaring keyword_search override

    def _search_candidates(
        self, vector: Sequence[float], query: str, scope: Scope, limit: int,
        filters: Filter | None, keyword: bool, include_deleted: bool, include_expired: bool,
    ) -> Candidates:
        """Both signals from one snapshot; ``query`` is only searched with ``keyword``."""
        raise NotImplementedError  # pragma: no cover - stores declaring candidate_search override

    def _get_vectors(self, ids: list[str], scope: Scope) -> dict[str, list[float]]:
        raise NotImplementedError  # pragma: no cover - stores declaring vector_read override

    @abstractmethod
    def _delete(self, ids: list[str], scope: Scope) -> int: ...

    @abstractmethod
    def _history(self, memory_id: str, scope: Scope) -> list[HistoryEntry]: ...

    @abstractmethod
    def _reset(self) -> None: ...

    def _get_info(self, key: str) -> str | None:
        raise NotImplementedError  # pragma: no cover - stores declaring store_info override

    def _claim_info(self, key: str, value: str) -> str:
        raise NotImplementedError  # pragma: no cover - stores declaring store_info override

    async def _aopen(self, dimension: int) -> None:
        await asyncio.to_thread(self._open, dimension)

    async def _aapply(self, changes: list[Change]) -> None:
        await asyncio.to_thread(self._apply, changes)

    async def _aget(self, ids: list[str], scope: Scope, include_deleted: bool) -> list[MemoryRecord]:
        return await asyncio.to_thread(self._get, ids, scope, include_deleted)

    async def _alist_records(
        self, scope: Scope, filters: Filter | None, limit: int, cursor: str | None,
        include_deleted: bool, include_expired: bool,
    ) -> Page:
        return await asyncio.to_thread(
            self._list_records, scope, filters, limit, cursor, include_deleted, include_expired)

    async def _acount(
        self, scope: Scope, filters: Filter | None, include_deleted: bool, include_expired: bool
    ) -> int:
        return await asyncio.to_thread(self._count, scope, filters, include_deleted, include_expired)

    async def _asearch(
        self, vector: Sequence[float], scope: Scope, limit: int, filters: Filter | None,
        include_deleted: bool, include_expired: bool,
    ) -> list[SearchHit]:
        return await asyncio.to_thread(
            self._search, vector, scope, limit, filters, include_deleted, include_expired)

    async def _akeyword_search(
        self, query: str, scope: Scope, limit: int, filters: Filter | None,
        include_deleted: bool, include_expired: bool,
    ) -> list[SearchHit]:
        return await asyncio.to_thread(
            self._keyword_search, query, scope, limit, filters, include_deleted, include_expired)

    async def _asearch_candidates(
        self, vector: Sequence[float], query: str, scope: Scope, limit: int,
        filters: Filter | None, keyword: bool, include_deleted: bool, include_expired: bool,
    ) -> Candidates:
        return await asyncio.to_thread(self._search_candidates, vector, query, scope, limit,
                                       filters, keyword, include_deleted, include_expired)

    async def _aget_vectors(self, ids: list[str], scope: Scope) -> dict[str, list[float]]:
        return await asyncio.to_thread(self._get_vectors, ids, scope)

    async def _adelete(self, ids: list[str], scope: Scope) -> int:
        return await asyncio.to_thread(self._delete, ids, scope)

    async def _ahistory(self, memory_id: str, scope: Scope) -> list[HistoryEntry]:
        return await asyncio.to_thread(self._history, memory_id, scope)

    async def _areset(self) -> None:
        await asyncio.to_thread(self._reset)

    async def _aget_info(self, key: str) -> str | None:
        return await asyncio.to_thread(self._get_info, key)

    async def _aclaim_info(self, key: str, value: str) -> str:
        return await asyncio.to_thread(self._claim_info, key, value)


def _light(hits: Sequence[SearchHit], found: Sequence[SearchHit] | None) -> Candidates:
    return Candidates([LightHit.of(h) for h in hits],
                      None if found is None else [LightHit.of(h) for h in found])


# --- Rerankers --------------------------------------------------------------------


class RerankResult(BaseModel):
    index: int
    score: float


class Reranked(list[RerankResult]):
    """A reranker's results with the ``usage`` they cost (a reranker that calls an
    LLM returns this instead of keeping counters on itself)."""

    def __init__(self, results: list[RerankResult] | None = None, *, usage: Usage | None = None) -> None:
        super().__init__(results or [])
        self.usage = usage if usage is not None else Usage()


class Reranker(Provider[ConfigT]):
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
