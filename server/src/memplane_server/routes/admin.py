"""/v1/scopes, /v1/audit and /v1/reset."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from memplane.models import Scope
from memplane_server.audit import AuditEntry
from memplane_server.auth import Grant, require_grant
from memplane_server.errors import ERROR_RESPONSES, ApiError
from memplane_server.schemas import ScopesResponse
from memplane_server.state import ServerState, get_state

router = APIRouter(prefix="/v1", tags=["admin"], responses=ERROR_RESPONSES)
GrantDep = Annotated[Grant, Depends(require_grant)]
StateDep = Annotated[ServerState, Depends(get_state)]


def _admin(grant: Grant) -> None:
    if not grant.admin:
        raise ApiError("admin_required", "this needs an admin key")


@router.get("/scopes", response_model=ScopesResponse)
async def scopes(grant: GrantDep, state: StateDep) -> ScopesResponse:
    if not grant.admin:
        return ScopesResponse(scopes=list(grant.scopes), complete=True)
    seen: dict[tuple[tuple[str, str], ...], Scope] = {}
    after = 0
    while True:
        batch = await asyncio.to_thread(state.audit.query, after=after, limit=1000)
        for entry in batch:
            if entry.scope:
                scope = Scope.model_validate(entry.scope)
                seen.setdefault(tuple(scope.items()), scope)
        if len(batch) < 1000:
            break
        after = batch[-1].seq
    return ScopesResponse(scopes=list(seen.values()), complete=False)


@router.get("/audit", response_model=list[AuditEntry])
async def audit(grant: GrantDep, state: StateDep,
                key_id: Annotated[str | None, Query()] = None,
                operation: Annotated[str | None, Query()] = None,
                user_id: Annotated[str | None, Query()] = None,
                memory_id: Annotated[str | None, Query()] = None,
                after: Annotated[int, Query(ge=0, le=2**62)] = 0,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AuditEntry]:
    _admin(grant)
    return await asyncio.to_thread(state.audit.query, key_id=key_id, operation=operation,
                                   user_id=user_id, memory_id=memory_id, after=after, limit=limit)


@router.post("/reset", status_code=204)
async def reset(grant: GrantDep, state: StateDep) -> None:
    """Remove every memory of every scope (Memory.reset). Admin only, audited."""
    _admin(grant)
    await state.memory.reset()
    await state.record(grant, "reset", None)
