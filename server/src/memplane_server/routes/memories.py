"""/v1/memories: the Memory API, one route per method. The scope always comes from
:func:`select_scope` (the credential), never from the body alone."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from memplane.models import AddResult, MemoryEvent, MemoryRecord, Scope
from memplane_server.auth import Grant, check_filters, require_grant, select_scope
from memplane_server.cursors import open_cursor, sign
from memplane_server.errors import ERROR_RESPONSES, ApiError
from memplane_server.schemas import (
    AddBody,
    DeletedResponse,
    HistoryResponse,
    PageResponse,
    ScopeFields,
    SearchBody,
    SearchResponse,
    UpdateBody,
)
from memplane_server.state import ServerState, get_state

router = APIRouter(prefix="/v1", tags=["memories"], responses=ERROR_RESPONSES)

GrantDep = Annotated[Grant, Depends(require_grant)]
StateDep = Annotated[ServerState, Depends(get_state)]
OptQ = Annotated[str | None, Query()]


def ids(scope: Scope) -> dict[str, Any]:
    """user_id/agent_id/run_id keyword arguments for the Memory call."""
    return dict(scope.items())


def _json_filters(raw: str | None) -> dict[str, Any] | None:
    if raw is None or raw == "":
        return None
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise ApiError("validation_error", "filters must be a JSON object",
                       detail={"type": "ValidationError"})
    return value


@router.post("/memories", response_model=AddResult)
async def add(body: AddBody, grant: GrantDep, state: StateDep) -> AddResult:
    scope = select_scope(grant, body.user_id, body.agent_id, body.run_id)
    messages: Any = body.messages
    if isinstance(messages, list):
        messages = [m if isinstance(m, str) else m.model_dump(exclude_none=True) for m in messages]
    elif not isinstance(messages, str):
        messages = messages.model_dump(exclude_none=True)
    result = await state.memory.add(
        messages, **ids(scope), metadata=body.metadata, infer=body.infer,
        observed_at=body.observed_at, expires_at=body.expires_at)
    changed = [e.id for e in result.events if e.event != "NONE"]
    await state.record(grant, "add", scope, changed, events=[e.event for e in result.events])
    return result


@router.post("/memories/search", response_model=SearchResponse)
async def search(body: SearchBody, grant: GrantDep, state: StateDep) -> SearchResponse:
    scope = select_scope(grant, body.user_id, body.agent_id, body.run_id)
    check_filters(grant, body.filters)
    hits = await state.memory.search(
        body.query, **ids(scope), filters=body.filters, limit=body.limit,
        threshold=body.threshold, rerank=body.rerank, explain=body.explain,
        hybrid=body.hybrid, include_expired=body.include_expired, as_of=body.as_of,
        max_age_days=body.max_age_days)
    return SearchResponse(results=list(hits), usage=hits.usage)


@router.get("/memories", response_model=PageResponse)
async def list_memories(
    grant: GrantDep, state: StateDep, user_id: OptQ = None, agent_id: OptQ = None,
    run_id: OptQ = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: OptQ = None, include_deleted: bool = False, include_expired: bool = False,
    filters: Annotated[str | None, Query(description="a JSON filter object")] = None,
) -> PageResponse:
    scope = select_scope(grant, user_id, agent_id, run_id)
    tree = _json_filters(filters)
    check_filters(grant, tree)
    page = await state.memory.get_all(
        **ids(scope), filters=tree, limit=limit,
        cursor=open_cursor(state.cursor_secret, scope, cursor),
        include_deleted=include_deleted, include_expired=include_expired)
    return PageResponse(records=page.records,
                        next_cursor=sign(state.cursor_secret, scope, page.next_cursor))


@router.delete("/memories", response_model=DeletedResponse)
async def delete_all(grant: GrantDep, state: StateDep, user_id: OptQ = None,
                     agent_id: OptQ = None, run_id: OptQ = None) -> DeletedResponse:
    scope = select_scope(grant, user_id, agent_id, run_id)
    gone: list[str] = []
    cursor: str | None = None
    while True:  # the ids, for the audit log (delete_all itself returns a count)
        page = await state.memory.get_all(**ids(scope), limit=500, cursor=cursor)
        gone += [r.id for r in page.records]
        cursor = page.next_cursor
        if cursor is None:
            break
    deleted = await state.memory.delete_all(**ids(scope))
    await state.record(grant, "delete_all", scope, gone, deleted=deleted)
    return DeletedResponse(deleted=deleted)


@router.get("/memories/{memory_id}", response_model=MemoryRecord)
async def get(memory_id: str, grant: GrantDep, state: StateDep, user_id: OptQ = None,
              agent_id: OptQ = None, run_id: OptQ = None, include_deleted: bool = False,
              include_expired: bool = False) -> MemoryRecord:
    scope = select_scope(grant, user_id, agent_id, run_id)
    return await state.memory.get(memory_id, **ids(scope),
                                  include_deleted=include_deleted, include_expired=include_expired)


@router.patch("/memories/{memory_id}", response_model=MemoryEvent)
async def update(memory_id: str, body: UpdateBody, grant: GrantDep,
                 state: StateDep) -> MemoryEvent:
    scope = select_scope(grant, body.user_id, body.agent_id, body.run_id)
    event = await state.memory.update(memory_id, body.text, **ids(scope),
                                      metadata=body.metadata)
    await state.record(grant, "update", scope, [memory_id])
    return event


@router.delete("/memories/{memory_id}", response_model=MemoryEvent)
async def delete(memory_id: str, grant: GrantDep, state: StateDep, user_id: OptQ = None,
                 agent_id: OptQ = None, run_id: OptQ = None) -> MemoryEvent:
    scope = select_scope(grant, user_id, agent_id, run_id)
    event = await state.memory.delete(memory_id, **ids(scope))
    await state.record(grant, "delete", scope, [memory_id])
    return event


@router.post("/memories/{memory_id}/restore", response_model=MemoryRecord)
async def restore(memory_id: str, grant: GrantDep, state: StateDep,
                  body: Annotated[ScopeFields | None, Body()] = None) -> MemoryRecord:
    fields = body or ScopeFields()
    scope = select_scope(grant, fields.user_id, fields.agent_id, fields.run_id)
    record = await state.memory.restore(memory_id, **ids(scope))
    await state.record(grant, "restore", scope, [memory_id])
    return record


@router.get("/memories/{memory_id}/history", response_model=HistoryResponse)
async def history(memory_id: str, grant: GrantDep, state: StateDep, user_id: OptQ = None,
                  agent_id: OptQ = None, run_id: OptQ = None) -> HistoryResponse:
    scope = select_scope(grant, user_id, agent_id, run_id)
    return HistoryResponse(history=await state.memory.history(memory_id, **ids(scope)))
