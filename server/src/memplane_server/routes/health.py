"""/healthz (the process answers) and /readyz (providers loaded, store reachable)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from memplane.errors import MemplaneError
from memplane_server.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(request: Request) -> Health | JSONResponse:
    server = getattr(request.app.state, "server", None)
    if server is None:
        return JSONResponse(Health(status="starting").model_dump(), status_code=503)
    try:  # a real store round trip, in a scope no one uses
        await server.memory.get_all(user_id="__memplane_readyz__", limit=1)
    except (MemplaneError, OSError) as exc:
        body = Health(status="unavailable", detail={"error": f"{type(exc).__name__}: {exc}"})
        return JSONResponse(body.model_dump(), status_code=503)
    memory = server.memory
    return Health(status="ready", detail={
        "llm": memory.llm.name, "embedder": memory.embedder.name,
        "vector_store": memory.vector_store.name})
