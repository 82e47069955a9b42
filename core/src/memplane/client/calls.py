"""One function per Memory method: the HTTP request it becomes and how to read the answer.

The sync and async clients only differ in how they send; both use these.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

from memplane.client.wire import Req, filter_spec, jsonable, query, scope_params, when
from memplane.filters import Filter
from memplane.models import (
    AddResult,
    HistoryEntry,
    MemoryEvent,
    MemoryRecord,
    Page,
    SearchHit,
    SearchResult,
    Usage,
)

T = TypeVar("T")
Call = tuple[Req, Callable[[Any], T]]


def _id(memory_id: str) -> str:
    return quote(str(memory_id), safe="")


def add(messages: Any, *, user_id: str | None, agent_id: str | None, run_id: str | None,
        metadata: Mapping[str, Any] | None, infer: bool, observed_at: datetime | None,
        expires_at: datetime | None) -> Call[AddResult]:
    if isinstance(messages, Mapping):
        messages = dict(messages)
    elif not isinstance(messages, str):
        messages = list(messages)
    body = {"messages": jsonable(messages), **scope_params(user_id, agent_id, run_id),
            "metadata": None if metadata is None else jsonable(dict(metadata)),
            "infer": bool(infer), "observed_at": when(observed_at),
            "expires_at": when(expires_at)}
    return Req("POST", "/v1/memories", body=body), AddResult.model_validate


def search(query_text: str, *, user_id: str | None, agent_id: str | None, run_id: str | None,
           filters: Filter | Mapping[str, Any] | None, limit: int, threshold: float | None,
           rerank: bool | None, explain: bool, hybrid: bool | None,
           include_expired: bool, as_of: datetime | None = None,
           max_age_days: float | None = None) -> Call[SearchResult]:
    body = {"query": query_text, **scope_params(user_id, agent_id, run_id),
            "filters": jsonable(filter_spec(filters)), "limit": limit, "threshold": threshold,
            "rerank": rerank, "explain": bool(explain), "hybrid": hybrid,
            "include_expired": bool(include_expired)}
    if as_of is not None:  # only when set, so an older server still takes the body
        body["as_of"] = when(as_of)
    if max_age_days is not None:
        body["max_age_days"] = max_age_days
    return (Req("POST", "/v1/memories/search", body=body),
            lambda data: SearchResult([SearchHit.model_validate(h) for h in data["results"]],
                                      usage=Usage.model_validate(data.get("usage") or {})))


def get(memory_id: str, *, user_id: str | None, agent_id: str | None, run_id: str | None,
        include_deleted: bool, include_expired: bool) -> Call[MemoryRecord]:
    params = query(**scope_params(user_id, agent_id, run_id), include_deleted=include_deleted,
                   include_expired=include_expired)
    return Req("GET", f"/v1/memories/{_id(memory_id)}", params), MemoryRecord.model_validate


def get_all(*, user_id: str | None, agent_id: str | None, run_id: str | None,
            filters: Filter | Mapping[str, Any] | None, limit: int, cursor: str | None,
            include_deleted: bool, include_expired: bool) -> Call[Page]:
    spec = filter_spec(filters)
    params = query(**scope_params(user_id, agent_id, run_id), limit=limit, cursor=cursor,
                   include_deleted=include_deleted, include_expired=include_expired,
                   filters=None if spec is None else json.dumps(jsonable(spec)))
    return Req("GET", "/v1/memories", params), Page.model_validate


def update(memory_id: str, text: str, *, user_id: str | None, agent_id: str | None,
           run_id: str | None, metadata: Mapping[str, Any] | None) -> Call[MemoryEvent]:
    body = {"text": text, **scope_params(user_id, agent_id, run_id),
            "metadata": None if metadata is None else jsonable(dict(metadata))}
    return Req("PATCH", f"/v1/memories/{_id(memory_id)}", body=body), MemoryEvent.model_validate


def delete(memory_id: str, *, user_id: str | None, agent_id: str | None,
           run_id: str | None) -> Call[MemoryEvent]:
    params = query(**scope_params(user_id, agent_id, run_id))
    return Req("DELETE", f"/v1/memories/{_id(memory_id)}", params), MemoryEvent.model_validate


def restore(memory_id: str, *, user_id: str | None, agent_id: str | None,
            run_id: str | None) -> Call[MemoryRecord]:
    return (Req("POST", f"/v1/memories/{_id(memory_id)}/restore",
                body=scope_params(user_id, agent_id, run_id)), MemoryRecord.model_validate)


def history(memory_id: str, *, user_id: str | None, agent_id: str | None,
            run_id: str | None) -> Call[list[HistoryEntry]]:
    params = query(**scope_params(user_id, agent_id, run_id))
    return (Req("GET", f"/v1/memories/{_id(memory_id)}/history", params),
            lambda data: [HistoryEntry.model_validate(h) for h in data["history"]])


def delete_all(*, user_id: str | None, agent_id: str | None, run_id: str | None) -> Call[int]:
    params = query(**scope_params(user_id, agent_id, run_id))
    return Req("DELETE", "/v1/memories", params), lambda data: int(data["deleted"])


def reset() -> Call[None]:
    return Req("POST", "/v1/reset"), lambda _: None


def export_params(*, user_id: str | None, agent_id: str | None, run_id: str | None,
                  vectors: bool) -> dict[str, str]:
    return query(**scope_params(user_id, agent_id, run_id), vectors=vectors)


def import_params(*, user_id: str | None, agent_id: str | None, run_id: str | None,
                  reembed: bool) -> dict[str, str]:
    return query(**scope_params(user_id, agent_id, run_id), reembed=reembed)
