"""``Memory``: the public, synchronous API.

All behaviour lives in flows (:mod:`memplane.pipeline`, :mod:`memplane.retrieval`)
shared with :class:`~memplane.async_memory.AsyncMemory`; this module builds the
providers, wraps their methods through the hook plugins once, checks arguments,
and drives the flows synchronously.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar, cast

from pydantic import ValidationError as PydanticValidationError

from memplane import ingest, inputs
from memplane.config import MemoryConfig, ProviderBlock
from memplane.errors import ConfigurationError, MemoryClosed, UnsupportedCapability, ValidationError
from memplane.filters import Filter, parse_filter, require_supported
from memplane.models import (
    AddResult,
    ChatMessage,
    HistoryEntry,
    MemoryEvent,
    MemoryRecord,
    Page,
    Scope,
    SearchResult,
    utcnow,
)
from memplane.pipeline import calls
from memplane.pipeline.add import AddRequest, MessageFields, add_flow
from memplane.pipeline.effects import Flow
from memplane.pipeline.identity_gate import EmbedderGate
from memplane.pipeline.operations import (
    delete_all_flow,
    delete_flow,
    fetch_flow,
    history_flow,
    list_flow,
    restore_flow,
    update_flow,
)
from memplane.pipeline.runner import CallRunner
from memplane.plugins.hooks import PluginManager
from memplane.plugins.registry import create_provider
from memplane.providers.base import LLM, Embedder, Kind, Provider, Reranker, VectorStore
from memplane.retrieval import SearchRequest, search_flow, time_window

T = TypeVar("T")

Messages = str | Mapping[str, Any] | Sequence[str | Mapping[str, Any]]


def normalise_messages(messages: Messages) -> list[ChatMessage]:
    """A str (one user message), a ``{role, content}`` dict, or a list of either."""
    return [m for m, _ in _split_messages(messages)]


#: keys a message dict may carry besides the ChatMessage fields (per-message fields)
MESSAGE_FIELDS = ("metadata", "observed_at")


def _split_messages(messages: Messages) -> list[tuple[ChatMessage, dict[str, Any]]]:
    """Each message with its own ``metadata`` / ``observed_at`` (unchecked, as given)."""
    items: Sequence[Any] = [messages] if isinstance(messages, str | Mapping) else messages
    if not isinstance(items, Sequence) or not items:
        raise ValidationError("add needs a message: a string, a {role, content} dict, or a non-empty list of them")
    out: list[tuple[ChatMessage, dict[str, Any]]] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            out.append((ChatMessage(role="user", content=item), {}))
            continue
        if not isinstance(item, Mapping):
            raise ValidationError(f"message {i} must be a string or a {{role, content}} dict, got {type(item).__name__}")
        fields = {k: item[k] for k in MESSAGE_FIELDS if k in item and item[k] is not None}
        try:
            message = ChatMessage.model_validate({k: v for k, v in item.items() if k not in MESSAGE_FIELDS})
        except PydanticValidationError as exc:
            problems = ", ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ValidationError(f"message {i} is invalid ({problems}); roles are user, assistant, system, tool") from None
        out.append((message, fields))
    return out


def message_fields(
    given: Sequence[dict[str, Any]], metadata: dict[str, Any], observed_at: datetime | None,
) -> list[MessageFields]:
    """Per-message metadata and observed_at, each merged over the call's: a message's
    metadata keys replace the call's, its observed_at replaces the call's."""
    out = []
    for i, fields in enumerate(given):
        own = fields.get("metadata")
        if own is not None and not isinstance(own, Mapping):
            raise ValidationError(f"message {i}: metadata must be a dict, got {type(own).__name__}")
        merged = inputs.check_metadata({**metadata, **own}) if own else dict(metadata)
        when = _aware(fields.get("observed_at"), f"message {i} observed_at")
        out.append(MessageFields(metadata=merged, observed_at=when or observed_at,
                                 own_metadata=dict(own or {}), own_observed_at=when))
    return out


def _aware(value: datetime | None, name: str) -> datetime | None:
    return inputs.aware_datetime(value, name)  # also refuses years a UTC shift overflows


def _config(config: MemoryConfig | Mapping[str, Any] | str | os.PathLike[str] | None) -> MemoryConfig:
    if config is None:
        return MemoryConfig.load()
    if isinstance(config, MemoryConfig):
        return config
    if isinstance(config, str | os.PathLike):
        return MemoryConfig.from_file(config)
    return MemoryConfig.from_dict(config)


class MemoryBase:
    """Provider set-up and argument handling shared by Memory and AsyncMemory."""

    def __init__(
        self,
        config: MemoryConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None,
        *,
        llm: LLM | None = None,
        embedder: Embedder | None = None,
        vector_store: VectorStore | None = None,
        reranker: Reranker | None = None,
        plugins: PluginManager | None = None,
    ) -> None:
        given_all = llm is not None and embedder is not None and vector_store is not None
        self.config = MemoryConfig() if config is None and given_all else _config(config)
        self._owned: list[Provider] = []
        try:
            self.embedder: Embedder = embedder or cast(Embedder, self._load("embedders", self.config.embedder))
            self.vector_store: VectorStore = vector_store or cast(
                VectorStore, self._load("vector_stores", self.config.vector_store))
            self.llm: LLM = llm or cast(LLM, self._load("llms", self.config.llm))
            block = self.config.reranker
            self.reranker: Reranker | None = reranker or (
                cast(Reranker, self._load("rerankers", block)) if block else None)
        except BaseException:
            self._close_owned()
            raise
        self.plugins = plugins if plugins is not None else PluginManager()
        self._runner = CallRunner(self._providers(), self.plugins,
                                  gate=EmbedderGate(self.vector_store, self.embedder))
        bind = getattr(self.reranker, "bind_llm", None)
        if callable(bind):
            # the llm reranker grades with the configured LLM, through the call path
            bind(self._runner.routed("llms", self.llm))
        self._closed = False

    def _load(self, kind: Kind, block: ProviderBlock) -> Provider:
        provider = create_provider(kind, block.spec())  # the registry checks the base class
        self._owned.append(provider)
        return provider

    def _providers(self) -> dict[Kind, Provider | None]:
        return {"llms": self.llm, "embedders": self.embedder,
                "vector_stores": self.vector_store, "rerankers": self.reranker}

    def routed(self, kind: Kind) -> Any:
        """The provider of ``kind`` as seen through the call path (hooks see its calls);
        for code outside the flows, such as the CLI's export and import."""
        provider = self._providers()[kind]
        if provider is None:
            raise ConfigurationError(f"this Memory has no {kind} provider")
        return self._runner.routed(kind, provider)

    # --- argument handling ---------------------------------------------------------
    @staticmethod
    def _scope(operation: str, user_id: str | None, agent_id: str | None, run_id: str | None) -> Scope:
        try:
            scope = Scope(user_id=user_id, agent_id=agent_id, run_id=run_id)
        except PydanticValidationError:
            raise ValidationError(f"{operation}: user_id, agent_id and run_id must be non-empty strings") from None
        for name, value in scope.items():
            inputs.check_text(value, name)  # a lone surrogate would fail inside the store
        return scope.require(operation)

    @staticmethod
    def _filters(filters: Filter | Mapping[str, Any] | None) -> Filter | None:
        return parse_filter(filters)

    def _check_filters(self, filters: Filter | None) -> None:
        """Refuse an operator the store lacks before any provider call is made."""
        require_supported(filters, self.vector_store.filter_operators, self.vector_store.name)

    def _add_request(
        self, messages: Messages, scope: Scope, metadata: Mapping[str, Any] | None, infer: bool,
        observed_at: datetime | None, expires_at: datetime | None,
    ) -> AddRequest:
        split = _split_messages(messages)
        checked = [m for m, _ in split]
        inputs.check_messages(checked, self.config.pipeline.max_message_chars)
        call_metadata = inputs.check_metadata(metadata)
        call_observed = _aware(observed_at, "observed_at")
        return AddRequest(
            messages=checked,
            scope=scope,
            settings=self.config.pipeline,
            now=utcnow(),
            metadata=call_metadata,
            fields=message_fields([f for _, f in split], call_metadata, call_observed),
            infer=bool(infer),
            observed_at=call_observed,
            expires_at=_aware(expires_at, "expires_at"),
            llm_name=self.llm.name or type(self.llm).__name__,
            schema_in_request=self.llm.has("json_schema"),
        )

    def _ingest_start(self, items: object, batch_size: object, fields: Mapping[str, Any], *,
                      allow_async: bool = False) -> int:
        """add_many's checks before any item is read (so that an item's check, which
        repeats the call's, only fails for the item); returns the batch size."""
        self._scope("add_many", fields["user_id"], fields["agent_id"], fields["run_id"])
        inputs.check_metadata(fields["metadata"])
        _aware(fields["observed_at"], "observed_at")
        _aware(fields["expires_at"], "expires_at")
        ingest.check_items(items, allow_async=allow_async)
        return ingest.check_batch_size(batch_size)

    def _ingest_request(self, messages: Messages, fields: Mapping[str, Any]) -> AddRequest:
        """The checks ``add_many`` runs on one item to name a bad one (no write)."""
        scope = self._scope("add_many", fields["user_id"], fields["agent_id"], fields["run_id"])
        return self._add_request(messages, scope, fields["metadata"], False,
                                 fields["observed_at"], fields["expires_at"])

    def _search_request(
        self, query: str, scope: Scope, filters: Filter | Mapping[str, Any] | None, limit: int,
        threshold: float | None, rerank: bool | None, explain: bool, hybrid: bool | None,
        include_expired: bool, as_of: datetime | None = None, max_age_days: float | None = None,
    ) -> SearchRequest:
        inputs.check_text(query, "the query", max_chars=self.config.pipeline.max_message_chars)
        tree = self._filters(filters)
        self._check_filters(tree)
        reference = _aware(as_of, "as_of")
        if max_age_days is not None and (isinstance(max_age_days, bool) or not isinstance(max_age_days, int | float)):
            raise ValidationError("max_age_days must be a number of days")
        now = utcnow()
        self._check_filters(time_window(reference, max_age_days, now))  # also checks max_age_days
        settings = self.config.search
        use_rerank = settings.rerank if rerank is None else bool(rerank)
        if use_rerank and self.reranker is None:
            raise ConfigurationError(
                "search(rerank=True) needs a reranker: set the `reranker` block "
                "(e.g. reranker: llm) or pass reranker= to Memory"
            )
        use_hybrid = settings.hybrid if hybrid is None else bool(hybrid)
        if use_hybrid and not self.vector_store.has("keyword_search"):
            if hybrid:
                raise UnsupportedCapability(
                    f"vector store {self.vector_store.name!r} has no keyword search; "
                    "call search(hybrid=False) or choose a store that declares keyword_search"
                )
            use_hybrid = False  # configured default: fall back to vector only
        return SearchRequest(
            query=query, scope=scope, settings=settings, now=now, filters=tree,
            limit=int(limit), threshold=threshold, rerank=use_rerank, explain=bool(explain),
            hybrid=use_hybrid, include_expired=bool(include_expired), as_of=reference,
            max_age_days=None if max_age_days is None else float(max_age_days),
        )

    def _emit(self, events: Sequence[MemoryEvent]) -> None:
        for event in events:
            self.plugins.memory_event(event)

    def _close_owned(self) -> None:
        while self._owned:
            self._owned.pop().close()


class Memory(MemoryBase):
    """Long-term memory over one LLM, embedder, vector store (and optional reranker).

    ``Memory()`` uses ``$MEMPLANE_CONFIG`` or the defaults plus ``MEMPLANE_*``
    variables; ``Memory(config)`` takes a :class:`MemoryConfig`, a dict or a file
    path; provider instances (``llm=``, ``embedder=``, ``vector_store=``,
    ``reranker=``) replace the configured ones and stay owned by the caller
    (``close`` only closes providers Memory created). With all of llm, embedder and
    vector_store given and no config, the defaults are used (no file or environment).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        try:
            self._run(self._open())
        except BaseException:
            self._close_owned()
            raise

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **kwargs: Any) -> Memory:
        return cls(MemoryConfig.from_file(path), **kwargs)

    def _open(self) -> Flow[None]:
        return calls.open_store(self.embedder.dimension)

    def _run(self, flow: Flow[T]) -> T:
        if getattr(self, "_closed", False):
            flow.close()
            raise MemoryClosed("this Memory is closed; create a new one")
        return self._runner.run(flow)

    # --- public API -----------------------------------------------------------------
    def add(
        self, messages: Messages, *, user_id: str | None = None, agent_id: str | None = None,
        run_id: str | None = None, metadata: Mapping[str, Any] | None = None, infer: bool = True,
        observed_at: datetime | None = None, expires_at: datetime | None = None,
    ) -> AddResult:
        """Turn messages into memory changes (see docs/concepts.md)."""
        scope = self._scope("add", user_id, agent_id, run_id)
        request = self._add_request(messages, scope, metadata, infer, observed_at, expires_at)
        result = self._run(add_flow(request))
        result.diagnostics.extend(inputs.truncation_notes(self.embedder, [m.content for m in request.messages]))
        self._emit(result.events)
        return result

    def add_many(
        self, items: Iterable[str | Mapping[str, Any]], *, user_id: str | None = None,
        agent_id: str | None = None, run_id: str | None = None,
        metadata: Mapping[str, Any] | None = None, observed_at: datetime | None = None,
        expires_at: datetime | None = None, batch_size: int = ingest.DEFAULT_BATCH,
        on_progress: ingest.ProgressCallback | None = None,
    ) -> ingest.IngestReport:
        """Store a long list or stream of messages verbatim (``infer=False``),
        ``batch_size`` at a time: one embedder call and one store apply a batch, then
        ``on_progress(report, batch_result)``. A failed batch leaves the earlier ones
        written (see :mod:`memplane.ingest`)."""
        fields: dict[str, Any] = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id,
                                  "metadata": metadata, "observed_at": observed_at,
                                  "expires_at": expires_at}
        size = self._ingest_start(items, batch_size, fields)
        return ingest.run(lambda batch: self.add(batch, infer=False, **fields), items, size,
                          on_progress, lambda one: self._ingest_request(one, fields))

    def search(
        self, query: str, *, user_id: str | None = None, agent_id: str | None = None,
        run_id: str | None = None, filters: Filter | Mapping[str, Any] | None = None,
        limit: int = 10, threshold: float | None = None, rerank: bool | None = None,
        explain: bool = False, hybrid: bool | None = None, include_expired: bool = False,
        as_of: datetime | None = None, max_age_days: float | None = None,
    ) -> SearchResult:
        """Best memories first. ``as_of``: search as of that time (recency counts from
        it; memories observed later are not found); ``max_age_days``: only memories
        observed within that many days before ``as_of`` (else now)."""
        scope = self._scope("search", user_id, agent_id, run_id)
        return self._run(search_flow(self._search_request(
            query, scope, filters, limit, threshold, rerank, explain, hybrid, include_expired,
            as_of, max_age_days)))

    def get(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None,
        run_id: str | None = None, include_deleted: bool = False, include_expired: bool = False,
    ) -> MemoryRecord:
        scope = self._scope("get", user_id, agent_id, run_id)
        return self._run(fetch_flow(memory_id, scope, utcnow(), include_deleted=include_deleted,
                                    include_expired=include_expired))

    def get_all(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        filters: Filter | Mapping[str, Any] | None = None, limit: int = 100,
        cursor: str | None = None, include_deleted: bool = False, include_expired: bool = False,
    ) -> Page:
        scope = self._scope("get_all", user_id, agent_id, run_id)
        tree = self._filters(filters)
        self._check_filters(tree)
        return self._run(list_flow(scope, filters=tree, limit=limit, cursor=cursor,
                                   include_deleted=include_deleted, include_expired=include_expired))

    def update(
        self, memory_id: str, text: str, *, user_id: str | None = None, agent_id: str | None = None,
        run_id: str | None = None, metadata: Mapping[str, Any] | None = None,
    ) -> MemoryEvent:
        scope = self._scope("update", user_id, agent_id, run_id)
        inputs.check_text(text, "the update text", max_chars=self.config.pipeline.max_message_chars)
        event = self._run(update_flow(memory_id, text, scope, utcnow(), inputs.check_metadata(metadata)))
        self._emit([event])
        return event

    def delete(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None,
        run_id: str | None = None,
    ) -> MemoryEvent:
        scope = self._scope("delete", user_id, agent_id, run_id)
        event = self._run(delete_flow(memory_id, scope, utcnow()))
        self._emit([event])
        return event

    def restore(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None,
        run_id: str | None = None,
    ) -> MemoryRecord:
        scope = self._scope("restore", user_id, agent_id, run_id)
        return self._run(restore_flow(memory_id, scope, utcnow()))

    def history(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None,
        run_id: str | None = None,
    ) -> list[HistoryEntry]:
        scope = self._scope("history", user_id, agent_id, run_id)
        return self._run(history_flow(memory_id, scope, utcnow()))

    def delete_all(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
    ) -> int:
        """Soft-delete every memory of the scope; returns how many."""
        scope = self._scope("delete_all", user_id, agent_id, run_id)
        events = self._run(delete_all_flow(scope, utcnow(), atomic=self.vector_store.has("atomic_apply")))
        self._emit(events)
        return len(events)

    def reset(self) -> None:
        """Remove every memory and history entry of every scope. Irreversible."""
        self._run(calls.reset())

    def close(self) -> None:
        if not getattr(self, "_closed", True):
            self._closed = True
            self._close_owned()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

