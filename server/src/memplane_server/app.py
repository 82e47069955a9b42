"""``create_app(settings)``: the FastAPI application.

REST under /v1, /healthz, /readyz; optional pieces (metrics, inspector, MCP) are wired
when their modules are installed. Providers are loaded at start-up (lifespan), once per
worker process, so /readyz reflects a usable Memory.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from types import ModuleType

from fastapi import FastAPI

from memplane import __version__ as core_version
from memplane.async_memory import AsyncMemory
from memplane.plugins.hooks import PluginManager
from memplane_server import __version__
from memplane_server.audit import AuditLog
from memplane_server.auth import GrantResolver, install
from memplane_server.db import ServerDB
from memplane_server.errors import install_handlers
from memplane_server.keys import KeyStore
from memplane_server.limits import BodyLimitMiddleware
from memplane_server.ratelimit import RateLimiter
from memplane_server.routes import admin, health, memories, transfer
from memplane_server.settings import ServerSettings
from memplane_server.state import ServerState

#: the third-party package each optional piece needs (its extra of memplane-server).
_OPTIONAL_NEEDS = {
    "memplane_server.metrics": "prometheus_client",
    "memplane_server.inspector": None,
    "memplane_server.mcp.http": "mcp",
}


def _optional(name: str) -> ModuleType | None:
    """Import ``name`` if it and the extra it needs are installed; a piece whose extra is
    present but that fails to import raises (a broken piece must not vanish silently)."""
    try:
        if importlib.util.find_spec(name) is None:
            return None
    except ModuleNotFoundError:  # a parent package is missing
        return None
    needs = _OPTIONAL_NEEDS.get(name)
    if needs is not None and importlib.util.find_spec(needs) is None:
        return None  # its extra (e.g. memplane-server[mcp]) is not installed
    return importlib.import_module(name)


def _plugins() -> PluginManager:
    """The hook plugins of the server's Memory: the installed ones, plus provider-call
    metrics when the metrics extra is installed (wrappers are fixed when Memory is built)."""
    plugins = PluginManager()
    if (metrics := _optional("memplane_server.metrics")) is not None:
        plugins.register(metrics.provider_metrics, name="memplane-server-metrics")
    return plugins


def create_app(settings: ServerSettings | None = None, *,
               memory: AsyncMemory | None = None) -> FastAPI:
    """The app. ``memory`` (optional) replaces the one built from
    ``settings.memory_config``; the caller then owns it (tests inject providers so)."""
    settings = settings or ServerSettings()
    db = ServerDB(settings.keys_db)
    keys, audit = KeyStore(db), AuditLog(db)
    jwt_verifier = None
    if settings.jwt is not None:
        from memplane_server.auth.jwt import JWTVerifier

        jwt_verifier = JWTVerifier(settings.jwt)
    resolver = GrantResolver(keys, jwt_verifier)
    install(resolver)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = memory is None
        mem = memory if memory is not None else AsyncMemory(settings.memory_config,
                                                           plugins=_plugins())
        app.state.server = ServerState(settings=settings, memory=mem, keys=keys, audit=audit,
                                       cursor_secret=db.meta("cursor_secret"))
        app.state.memory = mem  # what the MCP mount serves (memplane_server.mcp.http)
        try:
            async with AsyncExitStack() as stack:
                # optional pieces that need start-up/shutdown (e.g. an MCP session manager)
                for hook in app.state.lifespan_hooks:
                    await stack.enter_async_context(hook(app))
                yield
        finally:
            if owned:
                await mem.close()

    app = FastAPI(title="memplane-server", version=__version__, lifespan=lifespan,
                  description=f"The memplane Memory API over HTTP (memplane {core_version}). "
                  "Every /v1 route needs `Authorization: Bearer <API key or JWT>`; the "
                  "credential decides which scopes a request may touch.")
    app.state.settings = settings
    #: append ``hook(app) -> async context manager`` to run inside the app's lifespan
    app.state.lifespan_hooks = []
    app.state.grant_resolver = resolver
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    install_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_body=settings.max_body_bytes,
                       max_import=settings.max_import_bytes)
    for module in (health, memories, transfer, admin):
        app.include_router(module.router)

    if (metrics := _optional("memplane_server.metrics")) is not None:
        app.include_router(metrics.router)
        metrics.instrument_app(app)
    if (inspector := _optional("memplane_server.inspector")) is not None:
        app.include_router(inspector.router)
    if (mcp_http := _optional("memplane_server.mcp.http")) is not None:
        mcp_http.mount_mcp(app, resolver)
    return app


LifespanHook = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def app_from_env() -> FastAPI:
    """uvicorn factory for `memplane serve` workers: settings come from the environment."""
    return create_app(ServerSettings.from_env())
