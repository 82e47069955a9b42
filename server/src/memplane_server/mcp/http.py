"""Streamable HTTP at ``/mcp`` in the server app, bound to the caller's grant.

Every HTTP request is authenticated on its own (``Authorization: Bearer <key or
JWT>`` through the server's ``resolve_grant``) before the MCP SDK sees it, and
the scope it may touch is stored on the request; tools read it from there. So a
session id, a tool argument or an earlier request can never carry a scope over.

Which scope: a grant with exactly one scope uses it. A grant with several (or an
admin grant) must pick one per request with the headers ``X-Memplane-User-Id``,
``X-Memplane-Agent-Id`` and ``X-Memplane-Run-Id``; a pick that is not one of the
grant's scopes (exactly) is refused with 403 unless the grant is admin. The pick is
a header, not a tool argument, so the model driving the tools cannot change it.

The transport is stateless with JSON responses: any worker can answer any request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from mcp.server.mcpserver import Context
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import ValidationError as PydanticValidationError
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as ASGIScope

from memplane.async_memory import AsyncMemory
from memplane.errors import ScopeRequired
from memplane.models import SCOPE_FIELDS, Scope
from memplane_server.auth import AuthError
from memplane_server.mcp.tools import build_server

log = logging.getLogger(__name__)

#: where the authenticated scope travels from the middleware to the tools.
SCOPE_KEY = "memplane.mcp.scope"
#: where GrantMiddleware keeps the request's grant (the audit log names its key).
GRANT_KEY = "memplane.grant"
SCOPE_HEADERS = {f: "x-memplane-" + f.replace("_", "-") for f in SCOPE_FIELDS}


class GrantLike(Protocol):
    """What this module reads of ``memplane_server.auth.Grant``."""

    @property
    def admin(self) -> bool: ...
    @property
    def scopes(self) -> tuple[Scope, ...]: ...


GrantResolver = Callable[[str | None], Awaitable[GrantLike]]


class ScopeRefused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def select_scope(grant: GrantLike, headers: dict[str, str]) -> Scope:
    """The scope this request may use, from the grant and the selection headers."""
    picked = {f: headers.get(h) for f, h in SCOPE_HEADERS.items()}
    if any(v is not None for v in picked.values()):
        try:
            wanted = Scope(**picked)
        except PydanticValidationError:
            raise ScopeRefused(400, "validation_error", "X-Memplane-*-Id headers must be non-empty") from None
        if grant.admin or wanted in grant.scopes:
            return wanted
        raise ScopeRefused(403, "scope_forbidden", "this credential may not use the requested scope")
    if len(grant.scopes) == 1:
        return grant.scopes[0]
    raise ScopeRefused(
        400, "scope_required",
        "this credential holds several scopes (or is admin): pick one with the headers "
        "X-Memplane-User-Id / X-Memplane-Agent-Id / X-Memplane-Run-Id",
    )


class GrantMiddleware:
    """Authenticate each request and attach its scope, or answer 401/403/400."""

    def __init__(self, app: ASGIApp, resolve: GrantResolver) -> None:
        self.app, self.resolve = app, resolve

    async def __call__(self, scope: ASGIScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            grant = await self.resolve(headers.get("authorization"))
        except AuthError as exc:
            log.info("MCP request refused: 401 unauthenticated (%s)", exc)  # never the credential
            await _reply(send, 401, "unauthenticated", str(exc), {"www-authenticate": "Bearer"})
            return
        try:
            bound = select_scope(grant, headers)
        except ScopeRefused as exc:
            log.info("MCP request refused: %d %s", exc.status, exc.code)
            await _reply(send, exc.status, exc.code, str(exc))
            return
        scope[SCOPE_KEY] = bound
        scope[GRANT_KEY] = grant
        await self.app(scope, receive, send)


async def _reply(send: Send, status: int, code: str, message: str, extra: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "detail": {}}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def request_scope(ctx: Context[Any, Any]) -> Scope:
    """The scope GrantMiddleware attached to this tool call's HTTP request."""
    request = ctx.request_context.request
    bound = getattr(request, "scope", {}).get(SCOPE_KEY) if request is not None else None
    if not isinstance(bound, Scope):  # fail closed: no authenticated scope, no access
        raise ScopeRequired("MCP request without an authenticated scope")
    return bound


def mount_mcp(
    app: Any, grant_resolver: GrantResolver, *, memory: AsyncMemory | None = None, path: str = "/mcp",
    transport_security: TransportSecuritySettings | None = None,
) -> None:
    """Serve MCP (streamable HTTP) at ``path`` of a Starlette/FastAPI ``app``.

    ``memory`` defaults to ``app.state.memory``, looked up per call so the app may
    create it in its lifespan. The MCP session manager runs inside the app's
    lifespan. DNS-rebinding checks are off by default because every request needs
    a bearer credential a rebinding page cannot know; pass ``transport_security``
    to turn them on.
    """

    def get_memory() -> AsyncMemory:
        found = memory if memory is not None else getattr(app.state, "memory", None)
        if not isinstance(found, AsyncMemory):
            raise RuntimeError("mount_mcp: no AsyncMemory (pass memory= or set app.state.memory to an AsyncMemory)")
        return found

    async def audit_write(ctx: Context[Any, Any], operation: str, bound: Scope, ids: list[str]) -> None:
        # the server's append-only audit log (memplane_server.state), when the app has one:
        # MCP writes are audited like REST writes, under the same key id
        state = getattr(app.state, "server", None)
        request = ctx.request_context.request
        grant = getattr(request, "scope", {}).get(GRANT_KEY) if request is not None else None
        if state is not None and grant is not None:
            await state.record(grant, operation, bound, ids, via="mcp")

    server = build_server(get_memory, request_scope, on_write=audit_write)
    server.streamable_http_app(  # builds the session manager; we mount only its handler
        stateless_http=True, json_response=True,
        transport_security=transport_security or TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    manager = server.session_manager
    app.router.routes.append(Route(path, endpoint=GrantMiddleware(StreamableHTTPASGIApp(manager), grant_resolver)))

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with manager.run(), inner(a) as state:
            yield state

    app.router.lifespan_context = lifespan
