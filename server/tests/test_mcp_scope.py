"""Scope binding, attacker's view: a client bound to alice holds bob's ids, cursor
and field names, and still cannot read, change, delete or restore bob's memories.

Each check runs over stdio (two processes on one database, each bound by its env)
and over HTTP (one server, two API keys). Troubleshooting: a failure that shows
bob's text or id in alice's result is a cross-tenant leak.
"""

from __future__ import annotations

import json

import mcp_testkit as kit
import pytest
from mcp import ClientSession
from mcp.shared.exceptions import MCPError
from mcp_testkit import Connect, fails, ok

connect, http_server = kit.connect, kit.http_server  # fixtures

BOB_TEXT = "Bob's bank PIN hint is the name of his first cat"


async def _bob_memory(bob: ClientSession) -> tuple[str, str]:
    memory_id = (await ok(bob, "add_memory", text=BOB_TEXT, infer=False,
                          metadata={"topic": "secret"}))["events"][0]["id"]
    for i in range(3):
        await ok(bob, "add_memory", text=f"Bob note {i} about cats", infer=False, metadata={"topic": "secret"})
    cursor = (await ok(bob, "list_memories", limit=1))["next_cursor"]
    return memory_id, cursor


async def test_alice_cannot_read_bobs_memory_by_id(connect: Connect) -> None:
    async with connect("bob") as bob, connect("alice") as alice:
        bob_id, _ = await _bob_memory(bob)
        assert (await fails(alice, "get_memory", memory_id=bob_id)).startswith("memory_not_found")
        assert (await fails(alice, "get_memory", memory_id=bob_id, include_deleted=True)).startswith(
            "memory_not_found")
        assert (await fails(alice, "memory_history", memory_id=bob_id)).startswith("memory_not_found")
        for uri in (f"memory://{bob_id}", f"memory://{bob_id}/history"):
            with pytest.raises(MCPError) as err:
                await alice.read_resource(uri)
            assert BOB_TEXT not in str(err.value)


async def test_alice_cannot_update_delete_or_restore_bobs_memory(connect: Connect) -> None:
    async with connect("bob") as bob, connect("alice") as alice:
        bob_id, _ = await _bob_memory(bob)
        text = await fails(alice, "update_memory", memory_id=bob_id, text="owned by alice")
        assert text.startswith("memory_not_found")
        assert (await ok(bob, "get_memory", memory_id=bob_id))["text"] == BOB_TEXT

        assert (await fails(alice, "delete_memory", memory_id=bob_id)).startswith("memory_not_found")
        assert (await ok(bob, "get_memory", memory_id=bob_id))["deleted_at"] is None

        await ok(bob, "delete_memory", memory_id=bob_id)
        assert (await fails(alice, "restore_memory", memory_id=bob_id)).startswith("memory_not_found")
        assert (await ok(bob, "get_memory", memory_id=bob_id, include_deleted=True))["deleted_at"] is not None
        history = await ok(bob, "memory_history", memory_id=bob_id)
        assert [h["event"] for h in history["history"]] == ["ADD", "DELETE"], "alice's calls left a trace"


async def test_alice_cannot_reach_bob_by_search_filter_or_cursor(connect: Connect) -> None:
    async with connect("bob") as bob, connect("alice") as alice:
        bob_id, bob_cursor = await _bob_memory(bob)
        mine = (await ok(alice, "add_memory", text="Alice note about cats", infer=False,
                         metadata={"topic": "secret"}))["events"][0]["id"]
        # the same words and the same metadata as bob's: only alice's comes back
        hits = await ok(alice, "search_memories", query=BOB_TEXT, limit=100)
        assert [h["record"]["id"] for h in hits["results"]] == [mine]
        hits = await ok(alice, "search_memories", query="cats", filters={"topic": "secret"}, limit=100)
        assert [h["record"]["id"] for h in hits["results"]] == [mine]
        hits = await ok(alice, "search_memories", query="cats",
                        filters={"OR": [{"topic": "secret"}, {"NOT": {"topic": "secret"}}]}, limit=100)
        assert [h["record"]["id"] for h in hits["results"]] == [mine]
        # bob's cursor is only a position: alice gets her own records (or none), never bob's
        for cursor in (bob_cursor, None):
            page = await ok(alice, "list_memories", cursor=cursor, include_deleted=True)
            assert {r["id"] for r in page["records"]} <= {mine}
        # an argument the schema does not have is not a way in either
        result = await alice.call_tool("search_memories", {"query": BOB_TEXT, "user_id": connect.user("bob")})
        assert bob_id not in json.dumps(result.model_dump(mode="json"))
        assert BOB_TEXT not in json.dumps(result.model_dump(mode="json"))

