"""``AsyncMemoryClient``: :class:`~memplane.async_memory.AsyncMemory`'s API against a
memplane server (httpx.AsyncClient)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

from memplane import ingest
from memplane.client import calls
from memplane.client.sync import client_options
from memplane.client.wire import error_from, transport_error
from memplane.errors import ValidationError
from memplane.filters import Filter
from memplane.models import (
    AddResult,
    HistoryEntry,
    MemoryEvent,
    MemoryRecord,
    Page,
    SearchResult,
)

T = TypeVar("T")


class AsyncMemoryClient:
    """Same coroutines, arguments, results and errors as ``AsyncMemory``; the server's key decides
    which scopes it may touch (a key bound to one scope needs no user_id=)."""

    def __init__(self, url: str | None = None, *, api_key: str | None = None,
                 timeout: float = 60.0, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url, headers = client_options(url, api_key)
        self._http = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=timeout,
                                  transport=transport)

    async def _do(self, call: calls.Call[T]) -> T:
        req, parse = call
        if self._http.is_closed:
            raise ValidationError("this AsyncMemoryClient is closed")
        try:
            response = await self._http.request(req.method, req.path, params=req.params,
                                          json=req.body)
        except httpx.TransportError as exc:
            raise transport_error(exc, self.url) from None
        if response.status_code >= 400:
            raise error_from(response.status_code, response.content, self.url)
        return parse(response.json() if response.content else None)

    async def add(self, messages: Any, *, user_id: str | None = None, agent_id: str | None = None,
            run_id: str | None = None, metadata: Mapping[str, Any] | None = None,
            infer: bool = True, observed_at: datetime | None = None,
            expires_at: datetime | None = None) -> AddResult:
        return await self._do(calls.add(messages, user_id=user_id, agent_id=agent_id, run_id=run_id,
                                  metadata=metadata, infer=infer, observed_at=observed_at,
                                  expires_at=expires_at))

    async def add_many(self, items: Iterable[str | Mapping[str, Any]] | AsyncIterable[str | Mapping[str, Any]],
                       *, user_id: str | None = None, agent_id: str | None = None,
                       run_id: str | None = None, metadata: Mapping[str, Any] | None = None,
                       observed_at: datetime | None = None, expires_at: datetime | None = None,
                       batch_size: int = ingest.DEFAULT_BATCH,
                       on_progress: ingest.ProgressCallback | None = None) -> ingest.IngestReport:
        """:meth:`MemoryClient.add_many`; ``items`` may also be an async iterable."""
        ingest.check_items(items, allow_async=True)
        size = ingest.check_batch_size(batch_size)
        return await ingest.arun(
            lambda batch: self.add(batch, user_id=user_id, agent_id=agent_id, run_id=run_id,
                                   metadata=metadata, infer=False, observed_at=observed_at,
                                   expires_at=expires_at),
            items, size, on_progress, ingest.no_item_check)

    async def search(self, query: str, *, user_id: str | None = None, agent_id: str | None = None,
               run_id: str | None = None, filters: Filter | Mapping[str, Any] | None = None,
               limit: int = 10, threshold: float | None = None, rerank: bool | None = None,
               explain: bool = False, hybrid: bool | None = None,
               include_expired: bool = False, as_of: datetime | None = None,
               max_age_days: float | None = None) -> SearchResult:
        return await self._do(calls.search(query, user_id=user_id, agent_id=agent_id, run_id=run_id,
                                     filters=filters, limit=limit, threshold=threshold,
                                     rerank=rerank, explain=explain, hybrid=hybrid,
                                     include_expired=include_expired, as_of=as_of,
                                     max_age_days=max_age_days))

    async def get(self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None,
            run_id: str | None = None, include_deleted: bool = False,
            include_expired: bool = False) -> MemoryRecord:
        return await self._do(calls.get(memory_id, user_id=user_id, agent_id=agent_id, run_id=run_id,
                                  include_deleted=include_deleted,
                                  include_expired=include_expired))

    async def get_all(self, *, user_id: str | None = None, agent_id: str | None = None,
                run_id: str | None = None, filters: Filter | Mapping[str, Any] | None = None,
                limit: int = 100, cursor: str | None = None, include_deleted: bool = False,
                include_expired: bool = False) -> Page:
        return await self._do(calls.get_all(user_id=user_id, agent_id=agent_id, run_id=run_id,
                                      filters=filters, limit=limit, cursor=cursor,
                                      include_deleted=include_deleted,
                                      include_expired=include_expired))

    async def update(self, memory_id: str, text: str, *, user_id: str | None = None,
               agent_id: str | None = None, run_id: str | None = None,
               metadata: Mapping[str, Any] | None = None) -> MemoryEvent:
        return await self._do(calls.update(memory_id, text, user_id=user_id, agent_id=agent_id,
                                     run_id=run_id, metadata=metadata))

    async def delete(self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None,
               run_id: str | None = None) -> MemoryEvent:
        return await self._do(calls.delete(memory_id, user_id=user_id, agent_id=agent_id,
                                     run_id=run_id))

    async def restore(self, memory_id: str, *, user_id: str | None = None,
                agent_id: str | None = None, run_id: str | None = None) -> MemoryRecord:
        return await self._do(calls.restore(memory_id, user_id=user_id, agent_id=agent_id,
                                      run_id=run_id))

    async def history(self, memory_id: str, *, user_id: str | None = None,
                agent_id: str | None = None, run_id: str | None = None) -> list[HistoryEntry]:
        return await self._do(calls.history(memory_id, user_id=user_id, agent_id=agent_id,
                                      run_id=run_id))

    async def delete_all(self, *, user_id: str | None = None, agent_id: str | None = None,
                   run_id: str | None = None) -> int:
        return await self._do(calls.delete_all(user_id=user_id, agent_id=agent_id, run_id=run_id))

    async def reset(self) -> None:
        """Remove every memory of every scope (needs an admin key)."""
        await self._do(calls.reset())

    async def export_lines(self, *, user_id: str | None = None, agent_id: str | None = None,
                           run_id: str | None = None, vectors: bool = False) -> AsyncIterator[str]:
        params = calls.export_params(user_id=user_id, agent_id=agent_id, run_id=run_id,
                                     vectors=vectors)
        try:
            async with self._http.stream("GET", "/v1/export", params=params) as response:
                if response.status_code >= 400:
                    raise error_from(response.status_code, await response.aread(), self.url)
                async for line in response.aiter_lines():
                    yield line
        except httpx.TransportError as exc:
            raise transport_error(exc, self.url) from None

    async def import_lines(self, lines: Iterable[str], *, user_id: str | None = None,
                           agent_id: str | None = None, run_id: str | None = None,
                           reembed: bool = False) -> dict[str, int]:
        params = calls.import_params(user_id=user_id, agent_id=agent_id, run_id=run_id,
                                     reembed=reembed)
        body = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
        try:
            response = await self._http.post("/v1/import", params=params, content=body.encode(),
                                             headers={"Content-Type": "application/x-ndjson"})
        except httpx.TransportError as exc:
            raise transport_error(exc, self.url) from None
        if response.status_code >= 400:
            raise error_from(response.status_code, response.content, self.url)
        return {k: int(v) for k, v in response.json().items()}

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncMemoryClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()
