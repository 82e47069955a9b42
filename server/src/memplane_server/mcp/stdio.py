"""The stdio transport: one process per desktop client, bound to one scope.

The scope is fixed when the process starts (``--user/--agent/--run`` or
``MEMPLANE_MCP_USER_ID`` / ``MEMPLANE_MCP_AGENT_ID`` / ``MEMPLANE_MCP_RUN_ID``) and
the Memory comes from the usual configuration (``--config``, ``$MEMPLANE_CONFIG``,
``MEMPLANE_*`` variables).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

from pydantic import ValidationError as PydanticValidationError

from memplane.async_memory import AsyncMemory
from memplane.config import MemoryConfig
from memplane.errors import ValidationError
from memplane.models import Scope
from memplane_server.mcp.tools import build_server

SCOPE_ENV = {
    "user_id": "MEMPLANE_MCP_USER_ID",
    "agent_id": "MEMPLANE_MCP_AGENT_ID",
    "run_id": "MEMPLANE_MCP_RUN_ID",
}


def scope_from(
    *, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Scope:
    """Flags win over the environment, field by field; at least one id is required."""
    env = os.environ if environ is None else environ
    given = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}
    ids = {f: given[f] or env.get(var) or None for f, var in SCOPE_ENV.items()}
    try:
        scope = Scope(**ids)
    except PydanticValidationError:  # pragma: no cover - empty strings are mapped to None above
        raise ValidationError("memplane mcp: scope ids must be non-empty strings") from None
    if scope.is_empty:
        raise ValidationError(
            "memplane mcp needs a scope: set MEMPLANE_MCP_USER_ID (or MEMPLANE_MCP_AGENT_ID / "
            "MEMPLANE_MCP_RUN_ID) in the client's env, or pass --user/--agent/--run"
        )
    return scope


async def serve_stdio(config: MemoryConfig, scope: Scope) -> None:
    """Serve MCP on stdin/stdout until the client closes the pipe."""
    # stdout is the protocol channel: log lines go to stderr, which clients keep as the server's log
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    async with AsyncMemory(config) as memory:  # opens the store before the first request
        server = build_server(lambda: memory, lambda _ctx: scope)
        await server.run_stdio_async()
