"""MCP writes over streamable HTTP land in the server's audit log like REST writes,
under the key that made them; reads do not."""

from __future__ import annotations

import httpx
import mcp_testkit as kit
from support import Live

from memplane.models import Scope


async def test_mcp_writes_are_audited_under_the_calling_key(live: Live, admin_key: str) -> None:
    key = live.key(Scope(user_id="mcp-audited"))
    key_id = key.split("_")[1]
    async with kit.http_session(f"{live.url}/mcp", {"Authorization": f"Bearer {key}"}) as session:
        added = await kit.ok(session, "add_memory", text="I like oolong tea", infer=False)
        mid = added["events"][0]["id"]
        await kit.ok(session, "update_memory", memory_id=mid, text="I like green tea")
        await kit.ok(session, "search_memories", query="tea")  # a read: not audited
        await kit.ok(session, "delete_memory", memory_id=mid)
        await kit.ok(session, "restore_memory", memory_id=mid)
        await kit.fails(session, "delete_memory", memory_id="no-such-memory")  # refused: not audited
    with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {admin_key}"}) as admin:
        entries = admin.get("/v1/audit", params={"key_id": key_id}).json()
    assert [e["operation"] for e in entries] == ["add", "update", "delete", "restore"]
    assert all(e["scope"] == {"user_id": "mcp-audited"} and e["memory_ids"] == [mid] for e in entries)
