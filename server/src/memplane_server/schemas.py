"""Request and response bodies of the REST API (the OpenAPI schema comes from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from memplane.models import HistoryEntry, MemoryRecord, Scope, SearchHit, Usage


class _Body(BaseModel):
    # unknown fields are an error: a body cannot smuggle in a "scope" or anything else
    model_config = ConfigDict(extra="forbid")


class ScopeFields(_Body):
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None


class MessageIn(_Body):
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    name: str | None = None
    #: this message's own metadata, merged over the body's (its keys win)
    metadata: dict[str, Any] | None = None
    #: when this message was said (replaces the body's observed_at for it)
    observed_at: datetime | None = None


class AddBody(ScopeFields):
    messages: str | MessageIn | list[str | MessageIn]
    metadata: dict[str, Any] | None = None
    infer: bool = True
    observed_at: datetime | None = None
    expires_at: datetime | None = None


class SearchBody(ScopeFields):
    query: str
    filters: dict[str, Any] | None = None
    limit: int = Field(10, ge=1, le=1000)
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    rerank: bool | None = None
    explain: bool = False
    hybrid: bool | None = None
    include_expired: bool = False
    #: search as of this time: recency counts from it, later memories are not found
    as_of: datetime | None = None
    #: only memories observed at most this many days before as_of (else now)
    max_age_days: float | None = Field(None, gt=0)


class UpdateBody(ScopeFields):
    text: str
    metadata: dict[str, Any] | None = None


class SearchResponse(BaseModel):
    results: list[SearchHit]
    #: what the search cost: the query's embedding call and any reranker LLM calls
    usage: Usage = Field(default_factory=Usage)


class PageResponse(BaseModel):
    records: list[MemoryRecord]
    next_cursor: str | None = None


class HistoryResponse(BaseModel):
    history: list[HistoryEntry]


class DeletedResponse(BaseModel):
    deleted: int


class ImportResponse(BaseModel):
    imported: int
    skipped_existing: int
    reembedded: int


class ScopesResponse(BaseModel):
    scopes: list[Scope]
    #: false for an admin: the list is the scopes written through this server (audit log).
    complete: bool


class Health(BaseModel):
    status: str
    detail: dict[str, Any] = Field(default_factory=dict)
