"""/v1/export and /v1/import: one scope's memories as JSON Lines, in the very format of
``memplane export`` (core's transfer functions do the work, in a thread)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from memplane.cli import transfer
from memplane_server.auth import Grant, require_grant, select_scope
from memplane_server.errors import ERROR_RESPONSES, ApiError
from memplane_server.schemas import ImportResponse
from memplane_server.state import ServerState, get_state

router = APIRouter(prefix="/v1", tags=["transfer"], responses=ERROR_RESPONSES)
GrantDep = Annotated[Grant, Depends(require_grant)]
StateDep = Annotated[ServerState, Depends(get_state)]
Q = Annotated[str | None, Query()]
NDJSON = "application/x-ndjson"
CHUNK = 64 * 1024


async def _ensure_open(state: ServerState) -> None:
    # AsyncMemory opens its store on first use; transfer talks to the store directly
    await state.memory.get_all(user_id="__memplane_server_open__", limit=1)


@router.get("/export", response_class=StreamingResponse,
            responses={200: {"content": {NDJSON: {"schema": {"type": "string"}}},
                             "description": "header line, then one memory per line"}})
async def export(grant: GrantDep, state: StateDep, user_id: Q = None, agent_id: Q = None,
                 run_id: Q = None, vectors: bool = False) -> StreamingResponse:
    scope = select_scope(grant, user_id, agent_id, run_id)
    await _ensure_open(state)
    # spooled: memory stays bounded for big scopes, and errors surface before the 200
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, mode="w+", encoding="utf-8")  # noqa: SIM115 - closed by the stream
    memory = state.memory
    try:
        await asyncio.to_thread(transfer.export_scope, memory.routed("vector_stores"), memory.routed("embedders"),
                                scope, spool, vectors=vectors, show_progress=False)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    await state.record(grant, "export", scope)

    async def stream() -> AsyncIterator[str]:
        try:
            while chunk := await asyncio.to_thread(spool.read, CHUNK):
                yield chunk
        finally:
            spool.close()

    return StreamingResponse(stream(), media_type=NDJSON)


@router.post("/import", response_model=ImportResponse, openapi_extra={
    "requestBody": {"required": True, "content": {NDJSON: {"schema": {"type": "string"}}}}})
async def import_(request: Request, grant: GrantDep, state: StateDep, user_id: Q = None,
                  agent_id: Q = None, run_id: Q = None, reembed: bool = False) -> ImportResponse:
    scope = select_scope(grant, user_id, agent_id, run_id)
    raw = await request.body()  # bounded by max_import_bytes (BodyLimitMiddleware)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError("validation_error", "the import body must be UTF-8 JSON Lines",
                       detail={"type": "ValidationError"}) from None
    header, entries = transfer.read_export(iter(text.splitlines()))
    # every line must lie inside the request's scope: validated before anything is written
    outside = [e.record.id for e in entries if not scope.matches(e.record.scope)]
    if outside:
        raise ApiError("scope_forbidden", "the file holds memories outside the request's scope",
                       detail={"memory_ids": outside[:20]})
    # a history entry must belong to its own line's memory (another id is an attempt to
    # write into someone else's history; the store refuses it too)
    stray = [h.id for e in entries for h in e.history if h.memory_id != e.record.id]
    if stray:
        raise ApiError("validation_error", "history entries must name their own memory",
                       detail={"type": "ValidationError", "history_ids": stray[:20]})
    await _ensure_open(state)
    memory = state.memory
    report: Any = await asyncio.to_thread(
        transfer.import_entries, memory.routed("vector_stores"), memory.routed("embedders"), header, entries,
        force_reembed=reembed, show_progress=False)
    await state.record(grant, "import", scope, [e.record.id for e in entries],
                       imported=report.imported)
    return ImportResponse(**report.model_dump())
