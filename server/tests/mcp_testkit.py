"""Shared by the test_mcp_* modules: real servers, the SDK's own client.

- stdio: the server runs as a subprocess (``python -m memplane_server.mcp`` or the
  ``memplane`` CLI), reached with ``mcp.stdio_client``;
- HTTP: a real uvicorn on 127.0.0.1 serving a FastAPI app with ``mount_mcp``,
  reached with ``mcp.client.streamable_http.streamable_http_client``.

The Memory is the core's rules LLM + hashing embedder + sqlite in a temp dir:
offline, deterministic, no torch.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from fastapi import FastAPI
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from memplane.async_memory import AsyncMemory
from memplane.models import Scope
from memplane_server.auth import AuthError, Grant
from memplane_server.mcp.http import mount_mcp

TOOLS = {
    "add_memory", "search_memories", "list_memories", "get_memory", "update_memory",
    "delete_memory", "restore_memory", "memory_history",
}


def memory_env(db: Path) -> dict[str, str]:
    """MEMPLANE_* variables for the offline stack (what the stdio server reads)."""
    return {
        "MEMPLANE_LLM": "rules",
        "MEMPLANE_EMBEDDER": "hashing",
        "MEMPLANE_VECTOR_STORE": "sqlite",
        "MEMPLANE_VECTOR_STORE__PATH": str(db),
    }


def memory_config(db: Path) -> dict[str, Any]:
    return {"llm": "rules", "embedder": "hashing",
            "vector_store": {"provider": "sqlite", "config": {"path": str(db)}}}


def base_env() -> dict[str, str]:
    """The parent's environment without memplane/MCP settings that could leak in."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MEMPLANE_")}


@contextlib.asynccontextmanager
async def stdio_session(env: dict[str, str], command: str = sys.executable,
                        args: list[str] | None = None) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=command, args=args if args is not None else ["-m", "memplane_server.mcp"],
        env={**base_env(), **env},
    )
    with open(os.devnull, "w") as errlog:  # the server's log lines are not the test's output
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield session


@contextlib.asynccontextmanager
async def http_session(url: str, headers: dict[str, str], *, modern: bool = False) -> AsyncIterator[ClientSession]:
    """``modern``: the stateless 2026-07-28 protocol (server/discover) instead of
    the initialize handshake; the server answers both."""
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0)) as client,
        streamable_http_client(url, http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        if modern:
            await session.discover()
        else:
            await session.initialize()
        yield session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HttpServer:
    """uvicorn in a thread, serving a FastAPI app with the MCP mount.

    Grants live in ``keys`` (bearer token -> Grant); the resolver raises the
    server's ``AuthError`` like the real one.
    """

    def __init__(self, db: Path) -> None:
        self.keys: dict[str, Grant] = {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        config = memory_config(db)

        @contextlib.asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            async with AsyncMemory(config) as memory:
                app.state.memory = memory
                yield

        self.app = FastAPI(lifespan=lifespan)
        mount_mcp(self.app, self.resolve)
        self.server = uvicorn.Server(uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def resolve(self, header: str | None) -> Grant:
        if not header or not header.startswith("Bearer "):
            raise AuthError("missing bearer credential")
        grant = self.keys.get(header.removeprefix("Bearer "))
        if grant is None:
            raise AuthError("unknown key")
        return grant

    def key(self, *scopes: Scope, admin: bool = False) -> str:
        token = "mp_test_" + uuid.uuid4().hex
        self.keys[token] = Grant(key_id=token[-8:], admin=admin, scopes=tuple(scopes))
        return token

    def __enter__(self) -> HttpServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def text_of(result: CallToolResult) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


async def ok(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool that must succeed; its structured result (validated by the SDK
    client against the tool's output schema)."""
    result = await session.call_tool(tool, arguments)
    assert isinstance(result, CallToolResult)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert text_of(result).strip(), "every result is readable as text too"
    return dict(result.structured_content)


async def fails(session: ClientSession, tool: str, **arguments: Any) -> str:
    """Call a tool that must fail as an MCP tool error (isError); its text."""
    result = await session.call_tool(tool, arguments)
    assert isinstance(result, CallToolResult)
    assert result.is_error, f"{tool} should have failed: {result.structured_content}"
    return text_of(result)


# --- fixtures (imported by the test modules) ---------------------------------------


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    with HttpServer(tmp_path_factory.mktemp("mcp-http") / "memory.db") as server:
        yield server


class Connect:
    """``connect(name)``: a client session bound to the user ``connect.user(name)``
    (the name made unique per test), over one transport."""

    def __init__(self, transport: str, tag: str, open_session: Callable[[str], Any]) -> None:
        self.transport, self.tag, self._open = transport, tag, open_session

    def user(self, name: str) -> str:
        return f"{name}-{self.tag}"

    def __call__(self, name: str) -> contextlib.AbstractAsyncContextManager[ClientSession]:
        session: contextlib.AbstractAsyncContextManager[ClientSession] = self._open(self.user(name))
        return session


@pytest.fixture(params=["stdio", "http"])
def connect(request: pytest.FixtureRequest, tmp_path: Path) -> Connect:
    tag = uuid.uuid4().hex[:8]
    if request.param == "stdio":
        env = memory_env(tmp_path / "memory.db")
        return Connect("stdio", tag, lambda user: stdio_session({**env, "MEMPLANE_MCP_USER_ID": user}))
    server: HttpServer = request.getfixturevalue("http_server")

    def over_http(user: str) -> contextlib.AbstractAsyncContextManager[ClientSession]:
        token = server.key(Scope(user_id=user))
        return http_session(server.url, {"Authorization": f"Bearer {token}"})

    return Connect("http", tag, over_http)
