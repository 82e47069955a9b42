"""``AsyncMemory``: the public API as coroutines.

It runs the very same flows as :class:`~memplane.memory.Memory`, awaiting each
provider's ``a``-prefixed method (native async where the provider declares
``async_native``, a worker thread otherwise). The store is opened on first use.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

from memplane import ingest, inputs
from memplane.config import MemoryConfig
from memplane.errors import MemoryClosed
from memplane.filters import Filter
from memplane.memory import MemoryBase, Messages
from memplane.models import (
    AddResult,
    HistoryEntry,
    MemoryEvent,
    MemoryRecord,
    Page,
    SearchResult,
    utcnow,
)
from memplane.pipeline import calls
from memplane.pipeline.add import add_flow
from memplane.pipeline.effects import Flow
from memplane.pipeline.operations import (
    delete_all_flow,
    delete_flow,
    fetch_flow,
    history_flow,
    list_flow,
    restore_flow,
    update_flow,
)
from memplane.retrieval import search_flow

T = TypeVar("T")


class AsyncMemory(MemoryBase):
    """The async twin of :class:`~memplane.memory.Memory` (same arguments, same results)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._opened = False
        self._open_lock: asyncio.Lock | None = None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **kwargs: Any) -> AsyncMemory:
        return cls(MemoryConfig.from_file(path), **kwargs)


    async def _ensure_open(self) -> None:
        if self._opened:
            return
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if not self._opened:
                await self._runner.arun(calls.open_store(self.embedder.dimension))
                self._opened = True

    async def _run(self, flow: Flow[T]) -> T:
        if self._closed:
            flow.close()
            raise MemoryClosed("this AsyncMemory is closed; create a new one")
        await self._ensure_open()
        return await self._runner.arun(flow)

    # --- public API -----------------------------------------------------------------
    async def add(
        self, messages: Messages, *, user_id: str | None = None, agent_id: str | None = None,
        run_id: str | None = None, metadata: Mapping[str, Any] | None = None, infer: bool = True,
        observed_at: datetime | None = None, expires_at: datetime | None = None,
    ) -> AddResult:
        scope = self._scope("add", user_id, agent_id, run_id)
        request = self._add_request(messages, scope, metadata, infer, observed_at, expires_at)
        result = await self._run(add_flow(request))
        result.diagnostics.extend(inputs.truncation_notes(self.embedder, [m.content for m in request.messages]))
        self._emit(result.events)
        return result

    async def add_many(
        self, items: Iterable[str | Mapping[str, Any]] | AsyncIterable[str | Mapping[str, Any]],
        *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        metadata: Mapping[str, Any] | None = None, observed_at: datetime | None = None,
        expires_at: datetime | None = None, batch_size: int = ingest.DEFAULT_BATCH,
        on_progress: ingest.ProgressCallback | None = None,
    ) -> ingest.IngestReport:
        """:meth:`Memory.add_many`; ``items`` may also be an async iterable."""
        fields: dict[str, Any] = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id,
                                  "metadata": metadata, "observed_at": observed_at,
                                  "expires_at": expires_at}
        size = self._ingest_start(items, batch_size, fields, allow_async=True)
        return await ingest.arun(lambda batch: self.add(batch, infer=False, **fields), items,
                                 size, on_progress, lambda one: self._ingest_request(one, fields))

    async def search(
        self, query: str, *, user_id: str | None = None, agent_id: str | None = None,
        run_id: str | None = None, filters: Filter | Mapping[str, Any] | None = None,
        limit: int = 10, threshold: float | None = None, rerank: bool | None = None,
        explain: bool = False, hybrid: bool | None = None, include_expired: bool = False,
        as_of: datetime | None = None, max_age_days: float | None = None,
    ) -> SearchResult:
        scope = self._scope("search", user_id, agent_id, run_id)
        return await self._run(search_flow(self._search_request(
            query, scope, filters, limit, threshold, rerank, explain, hybrid, include_expired,
            as_of, max_age_days)))

    async def get(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None,
        run_id: str | None = None, include_deleted: bool = False, include_expired: bool = False,
    ) -> MemoryRecord:
        scope = self._scope("get", user_id, agent_id, run_id)
        return await self._run(fetch_flow(memory_id, scope, utcnow(), include_deleted=include_deleted,
                                          include_expired=include_expired))

    async def get_all(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
        filters: Filter | Mapping[str, Any] | None = None, limit: int = 100,
        cursor: str | None = None, include_deleted: bool = False, include_expired: bool = False,
    ) -> Page:
        scope = self._scope("get_all", user_id, agent_id, run_id)
        tree = self._filters(filters)
        self._check_filters(tree)
        return await self._run(list_flow(scope, filters=tree, limit=limit, cursor=cursor,
                                         include_deleted=include_deleted, include_expired=include_expired))

    async def update(
        self, memory_id: str, text: str, *, user_id: str | None = None, agent_id: str | None = None,
        run_id: str | None = None, metadata: Mapping[str, Any] | None = None,
    ) -> MemoryEvent:
        scope = self._scope("update", user_id, agent_id, run_id)
        inputs.check_text(text, "the update text", max_chars=self.config.pipeline.max_message_chars)
        event = await self._run(update_flow(memory_id, text, scope, utcnow(), inputs.check_metadata(metadata)))
        self._emit([event])
        return event

    async def delete(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None,
        run_id: str | None = None,
    ) -> MemoryEvent:
        scope = self._scope("delete", user_id, agent_id, run_id)
        event = await self._run(delete_flow(memory_id, scope, utcnow()))
        self._emit([event])
        return event

    async def restore(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None,
        run_id: str | None = None,
    ) -> MemoryRecord:
        scope = self._scope("restore", user_id, agent_id, run_id)
        return await self._run(restore_flow(memory_id, scope, utcnow()))

    async def history(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None,
        run_id: str | None = None,
    ) -> list[HistoryEntry]:
        scope = self._scope("history", user_id, agent_id, run_id)
        return await self._run(history_flow(memory_id, scope, utcnow()))

    async def delete_all(
        self, *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
    ) -> int:
        scope = self._scope("delete_all", user_id, agent_id, run_id)
        events = await self._run(delete_all_flow(scope, utcnow(), atomic=self.vector_store.has("atomic_apply")))
        self._emit(events)
        return len(events)

    async def reset(self) -> None:
        await self._run(calls.reset())

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            owned, self._owned = self._owned, []
            for provider in reversed(owned):
                await provider.aclose()

    async def __aenter__(self) -> AsyncMemory:
        await self._ensure_open()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

