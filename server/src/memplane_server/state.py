"""What the routes share: one AsyncMemory per worker process, and the server DB."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from memplane.async_memory import AsyncMemory
from memplane.models import Scope
from memplane_server.audit import AuditLog
from memplane_server.auth import Grant
from memplane_server.errors import ApiError
from memplane_server.keys import KeyStore
from memplane_server.settings import ServerSettings


@dataclass
class ServerState:
    settings: ServerSettings
    memory: AsyncMemory
    keys: KeyStore
    audit: AuditLog
    cursor_secret: str

    async def record(self, grant: Grant, operation: str, scope: Scope | None,
                     memory_ids: Sequence[str | None] = (), **detail: Any) -> None:
        ids = [i for i in memory_ids if i]
        await asyncio.to_thread(self.audit.record, key_id=grant.key_id, operation=operation,
                                scope=scope, memory_ids=ids, detail=detail)


def get_state(request: Request) -> ServerState:
    """The worker's state; it exists once the lifespan has started (run the app under
    uvicorn, or ``with TestClient(app)``: an ASGI transport without lifespan gets 503)."""
    state: ServerState | None = getattr(request.app.state, "server", None)
    if state is None:
        raise ApiError("provider_unavailable", "the server is not started (lifespan not run)")
    return state
