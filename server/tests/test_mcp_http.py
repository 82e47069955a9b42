"""Streamable HTTP specifics: every request authenticated, the scope from the grant.

Raw HTTP checks use httpx against the real uvicorn; MCP checks use the SDK client.
Troubleshooting: a 200 where 401/403 is expected means a request reached the MCP
SDK without an authenticated scope.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import mcp_testkit as kit
import pytest
from mcp.shared.exceptions import MCPError
from mcp_testkit import HttpServer, fails, http_session, ok

from memplane.models import Scope
from memplane_server.auth import Grant

http_server = kit.http_server  # fixture

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
ACCEPT = {"Accept": "application/json, text/event-stream"}


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer nope", "Basic YWxpY2U6eA=="])
async def test_requests_without_a_valid_credential_get_401(http_server: HttpServer, authorization: str | None) -> None:
    headers = dict(ACCEPT)
    if authorization is not None:
        headers["Authorization"] = authorization
    async with httpx.AsyncClient() as client:
        for method in ("POST", "GET", "DELETE"):
            response = await client.request(method, http_server.url, headers=headers, json=INIT)
            assert response.status_code == 401, (method, response.text)
            assert response.json()["error"]["code"] == "unauthenticated"
            assert response.headers["www-authenticate"] == "Bearer"


async def test_the_sdk_client_without_a_key_cannot_connect(http_server: HttpServer) -> None:
    with pytest.raises(BaseExceptionGroup) as caught:  # the SDK's task group wraps the 401
        async with http_session(http_server.url, {}):
            pass
    assert caught.group_contains(MCPError, match="error response", depth=None)


async def test_a_grant_with_several_scopes_must_pick_one_of_them_by_header(http_server: HttpServer) -> None:
    alice, carol, bob = (Scope(user_id=f"{n}-multi") for n in ("alice", "carol", "bob"))
    token = http_server.key(alice, carol)
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient() as client:
        response = await client.post(http_server.url, headers={**auth, **ACCEPT}, json=INIT)
        assert response.status_code == 400 and response.json()["error"]["code"] == "scope_required"
        response = await client.post(http_server.url, json=INIT,
                                     headers={**auth, **ACCEPT, "X-Memplane-User-Id": "bob-multi"})
        assert response.status_code == 403 and response.json()["error"]["code"] == "scope_forbidden"
        # a scope must match one of the grant's exactly: narrowing alice by an agent is another scope
        response = await client.post(http_server.url, json=INIT, headers={
            **auth, **ACCEPT, "X-Memplane-User-Id": "alice-multi", "X-Memplane-Agent-Id": "x"})
        assert response.status_code == 403
    async with http_session(http_server.url, {**auth, "X-Memplane-User-Id": "carol-multi"}) as s:
        added = await ok(s, "add_memory", text="Carol plays the cello", infer=False)
        assert added["events"][0]["scope"] == {"user_id": "carol-multi", "agent_id": None, "run_id": None}
        carol_id = added["events"][0]["id"]
    async with http_session(http_server.url, {**auth, "X-Memplane-User-Id": "alice-multi"}) as s:
        assert (await fails(s, "get_memory", memory_id=carol_id)).startswith("memory_not_found")
    bob_token = http_server.key(bob)
    async with http_session(http_server.url, {"Authorization": f"Bearer {bob_token}"}) as s:
        assert (await fails(s, "get_memory", memory_id=carol_id)).startswith("memory_not_found")


async def test_a_single_scope_grant_cannot_be_widened_by_header(http_server: HttpServer) -> None:
    token = http_server.key(Scope(user_id="dave-single"))
    async with httpx.AsyncClient() as client:
        response = await client.post(http_server.url, json=INIT, headers={
            "Authorization": f"Bearer {token}", **ACCEPT, "X-Memplane-User-Id": "erin-single"})
        assert response.status_code == 403
        response = await client.post(http_server.url, json=INIT, headers={
            "Authorization": f"Bearer {token}", **ACCEPT, "X-Memplane-User-Id": ""})
        assert response.status_code == 400


async def test_an_admin_grant_picks_any_scope_and_needs_one(http_server: HttpServer) -> None:
    admin = http_server.key(admin=True)
    user = http_server.key(Scope(user_id="frank-admin"))
    async with http_session(http_server.url, {"Authorization": f"Bearer {user}"}) as s:
        frank_id = (await ok(s, "add_memory", text="Frank likes jazz", infer=False))["events"][0]["id"]
    async with httpx.AsyncClient() as client:
        response = await client.post(http_server.url, json=INIT, headers={"Authorization": f"Bearer {admin}", **ACCEPT})
        assert response.status_code == 400
    async with http_session(http_server.url, {"Authorization": f"Bearer {admin}",
                                              "X-Memplane-User-Id": "frank-admin"}) as s:
        assert (await ok(s, "get_memory", memory_id=frank_id))["text"] == "Frank likes jazz"


async def test_each_request_is_authorised_on_its_own(http_server: HttpServer) -> None:
    """A key revoked mid-conversation stops working at the next request."""
    token = http_server.key(Scope(user_id="gina-revoke"))
    async with http_session(http_server.url, {"Authorization": f"Bearer {token}"}) as s:
        await ok(s, "list_memories")
        del http_server.keys[token]
        with pytest.raises(MCPError, match="error response"):  # the SDK's view of the 401
            await s.call_tool("list_memories", {})


async def test_an_oversized_request_body_is_refused_before_any_tool_runs(http_server: HttpServer) -> None:
    user = Scope(user_id="hank-big")
    token = http_server.key(user)
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "add_memory", "arguments": {"text": "x" * (5 * 1024 * 1024), "infer": False}}}
    headers = {"Authorization": f"Bearer {token}", **ACCEPT, "MCP-Protocol-Version": "2025-06-18"}
    async with httpx.AsyncClient() as client:
        response = await client.post(http_server.url, json=call, headers=headers)
        assert response.status_code == 413
        # without a credential the body is not even read: 401 first
        response = await client.post(http_server.url, json=call, headers=ACCEPT)
        assert response.status_code == 401
    async with http_session(http_server.url, {"Authorization": f"Bearer {token}"}) as s:
        assert (await ok(s, "list_memories"))["records"] == []


async def test_the_2026_protocol_is_bound_to_the_grant_too(http_server: HttpServer) -> None:
    """The SDK serves the discover-based protocol on another code path; same binding."""
    bob = {"Authorization": f"Bearer {http_server.key(Scope(user_id='bob-modern'))}"}
    alice = {"Authorization": f"Bearer {http_server.key(Scope(user_id='alice-modern'))}"}
    async with http_session(http_server.url, bob, modern=True) as s:
        assert s.protocol_version == "2026-07-28"
        added = await ok(s, "add_memory", text="Bob's modern secret", infer=False)
        assert added["events"][0]["scope"]["user_id"] == "bob-modern"
        bob_id = added["events"][0]["id"]
    async with http_session(http_server.url, alice, modern=True) as s:
        assert (await fails(s, "get_memory", memory_id=bob_id)).startswith("memory_not_found")
        assert (await fails(s, "delete_memory", memory_id=bob_id)).startswith("memory_not_found")
        with pytest.raises(MCPError):
            await s.read_resource(f"memory://{bob_id}")
        assert (await ok(s, "search_memories", query="Bob's modern secret"))["results"] == []


def test_create_app_mounts_mcp_behind_the_servers_auth(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from memplane_server.app import create_app
    from memplane_server.settings import ServerSettings

    settings = ServerSettings(memory_config=kit.memory_config(tmp_path / "m.db"), keys_db=tmp_path / "keys.db")
    with TestClient(create_app(settings)) as client:
        response = client.post("/mcp", json=INIT, headers=ACCEPT)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"


async def test_tools_fail_closed_when_a_request_carries_no_authenticated_scope(tmp_path: Path) -> None:
    """The HTTP resolver on a connection that did not pass GrantMiddleware (here the
    SDK's in-process transport) refuses every tool and resource instead of guessing."""
    from mcp import Client

    from memplane.async_memory import AsyncMemory
    from memplane_server.mcp.http import request_scope
    from memplane_server.mcp.tools import build_server

    async with AsyncMemory(kit.memory_config(tmp_path / "m.db")) as memory:
        await memory.add("Ivy likes figs", user_id="ivy", infer=False)
        server = build_server(lambda: memory, request_scope)
        async with Client(server) as client:
            for tool, args in [("list_memories", {}), ("search_memories", {"query": "figs"}),
                               ("add_memory", {"text": "I like plums"})]:
                result = await client.call_tool(tool, args)
                assert result.is_error and kit.text_of(result).startswith("scope_required: "), tool
            with pytest.raises(MCPError):
                await client.read_resource("memory://anything")
        assert len((await memory.get_all(user_id="ivy")).records) == 1


def test_mounting_leaves_the_apps_logging_alone() -> None:
    import logging

    from fastapi import FastAPI

    from memplane_server.mcp.http import mount_mcp

    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    # an app that has not configured logging: basicConfig would take over the root logger
    root.handlers[:] = []
    root.setLevel(logging.WARNING)
    try:
        mount_mcp(FastAPI(), http_server_resolver_never_called)
        assert (root.level, root.handlers) == (logging.WARNING, [])
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]


async def http_server_resolver_never_called(_header: str | None) -> Grant:
    raise AssertionError("not called")
