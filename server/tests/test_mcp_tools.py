"""Every tool through the SDK's own client, over stdio and streamable HTTP.

Troubleshooting: a failure here names the tool and shows its error text; run one
transport with ``-k stdio`` or ``-k http``. The SDK client validates every
structured result against the tool's output schema, so a schema drift fails here.
"""

from __future__ import annotations

from typing import Any

import mcp_testkit as kit
import pytest
from mcp_testkit import TOOLS, Connect, fails, ok, text_of

from memplane.errors import ValidationError
from memplane.filters import parse_filter
from memplane_server.mcp import tools as mcp_tools

connect, http_server = kit.connect, kit.http_server  # fixtures


async def test_lists_every_tool_with_an_output_schema_and_no_scope_argument(connect: Connect) -> None:
    async with connect("alice") as s:
        listed = (await s.list_tools()).tools
        assert {t.name for t in listed} == TOOLS
        for tool in listed:
            assert tool.output_schema and tool.output_schema.get("type") == "object", tool.name
            assert tool.description, tool.name
            props = set(tool.input_schema.get("properties", {}))
            assert not props & {"user_id", "agent_id", "run_id", "scope"}, (tool.name, props)
        templates = {t.uri_template for t in (await s.list_resource_templates()).resource_templates}
        assert templates == {"memory://{memory_id}", "memory://{memory_id}/history"}


async def test_add_yields_add_none_update_delete_through_mcp(connect: Connect) -> None:
    async with connect("alice") as s:
        added = await ok(s, "add_memory", text="I prefer Python for scripting")
        assert [e["event"] for e in added["events"]] == ["ADD"]
        memory_id = added["events"][0]["id"]

        same = await ok(s, "add_memory", text="I prefer Python for scripting")
        assert [(e["event"], e["id"]) for e in same["events"]] == [("NONE", memory_id)]

        changed = await ok(s, "add_memory", messages=[
            {"role": "assistant", "content": "Which language do you use?"},
            {"role": "user", "content": "I switched to TypeScript for scripting"}])
        assert [(e["event"], e["id"]) for e in changed["events"]] == [("UPDATE", memory_id)]
        assert changed["events"][0]["previous_text"] == "User prefers Python for scripting"
        record = await ok(s, "get_memory", memory_id=memory_id)
        assert record["text"] == "User prefers TypeScript for scripting"

        gone = await ok(s, "add_memory", text="Forget that I use TypeScript for scripting")
        assert [(e["event"], e["id"]) for e in gone["events"]] == [("DELETE", memory_id)]
        assert "memory_not_found" in await fails(s, "get_memory", memory_id=memory_id)

        history = await ok(s, "memory_history", memory_id=memory_id)
        assert [h["event"] for h in history["history"]] == ["ADD", "UPDATE", "DELETE"]


async def test_every_tool_round_trip(connect: Connect) -> None:
    async with connect("alice") as s:
        first = await ok(s, "add_memory", text="Alice's favourite tea is sencha", infer=False,
                         metadata={"topic": "food", "stars": 4}, observed_at="2024-03-01T10:00:00Z")
        assert first["events"][0]["event"] == "ADD"
        tea = first["events"][0]["id"]
        second = await ok(s, "add_memory", text="Alice's office is in Lisbon", infer=False,
                          metadata={"topic": "work"})
        office = second["events"][0]["id"]

        record = await ok(s, "get_memory", memory_id=tea)
        assert record["metadata"] == {"topic": "food", "stars": 4}
        assert record["observed_at"].startswith("2024-03-01T10:00:00")
        assert record["scope"]["user_id"].startswith("alice-")

        hits = await ok(s, "search_memories", query="favourite tea", limit=5)
        assert hits["results"][0]["record"]["id"] == tea
        assert 0.0 <= hits["results"][0]["score"] <= 1.0
        filtered = await ok(s, "search_memories", query="favourite tea",
                            filters={"topic": "work"})
        assert [h["record"]["id"] for h in filtered["results"]] == [office]
        ranged = await ok(s, "search_memories", query="tea", filters={"stars": {"gte": 5}})
        assert ranged["results"] == []

        page1 = await ok(s, "list_memories", limit=1)
        assert len(page1["records"]) == 1 and page1["next_cursor"]
        page2 = await ok(s, "list_memories", limit=1, cursor=page1["next_cursor"])
        assert {page1["records"][0]["id"], page2["records"][0]["id"]} == {tea, office}

        updated = await ok(s, "update_memory", memory_id=tea, text="Alice's favourite tea is gyokuro",
                           metadata={"stars": 5})
        assert updated["event"] == "UPDATE" and updated["previous_text"] == "Alice's favourite tea is sencha"
        assert (await ok(s, "get_memory", memory_id=tea))["metadata"] == {"topic": "food", "stars": 5}

        deleted = await ok(s, "delete_memory", memory_id=tea)
        assert deleted["event"] == "DELETE" and deleted["id"] == tea
        assert [r["id"] for r in (await ok(s, "list_memories"))["records"]] == [office]
        with_deleted = await ok(s, "list_memories", include_deleted=True)
        assert {r["id"] for r in with_deleted["records"]} == {tea, office}
        assert (await ok(s, "get_memory", memory_id=tea, include_deleted=True))["deleted_at"]

        restored = await ok(s, "restore_memory", memory_id=tea)
        assert restored["id"] == tea and restored["deleted_at"] is None
        history = await ok(s, "memory_history", memory_id=tea)
        assert [h["event"] for h in history["history"]] == ["ADD", "UPDATE", "DELETE", "RESTORE"]
        assert history["history"][1]["old_text"] == "Alice's favourite tea is sencha"

        # resources: the same record and history as JSON
        import json

        res = await s.read_resource(f"memory://{tea}")
        assert json.loads(res.contents[0].text)["text"] == "Alice's favourite tea is gyokuro"  # type: ignore[union-attr]
        res = await s.read_resource(f"memory://{tea}/history")
        assert len(json.loads(res.contents[0].text)["history"]) == 4  # type: ignore[union-attr]


async def test_results_read_as_text(connect: Connect) -> None:
    async with connect("alice") as s:
        result = await s.call_tool("add_memory", {"text": "I like sushi"})
        assert result.structured_content is not None
        memory_id = result.structured_content["events"][0]["id"]
        assert text_of(result) == f"ADD [{memory_id}] User likes sushi"
        result = await s.call_tool("search_memories", {"query": "sushi"})
        assert f"[{memory_id}] User likes sushi" in text_of(result)
        result = await s.call_tool("memory_history", {"memory_id": memory_id})
        assert "ADD User likes sushi" in text_of(result)


async def test_core_errors_are_tool_errors_with_the_core_message(connect: Connect) -> None:
    bad_filter = {"stars": {"between": [1, 2]}}
    with pytest.raises(ValidationError) as core_error:
        parse_filter(bad_filter)
    async with connect("alice") as s:
        text = await fails(s, "search_memories", query="x", filters=bad_filter)
        assert text == f"validation_error: {' '.join(str(core_error.value).split())}"

        text = await fails(s, "get_memory", memory_id="no-such-id")
        assert text.startswith("memory_not_found: no memory 'no-such-id' in scope")
        for tool in ("update_memory", "delete_memory", "restore_memory", "memory_history"):
            args: dict[str, Any] = {"memory_id": "no-such-id"}
            if tool == "update_memory":
                args["text"] = "x"
            assert (await fails(s, tool, **args)).startswith("memory_not_found: "), tool

        assert "validation_error: add_memory takes either text or messages" in await fails(s, "add_memory")
        assert "exactly one" in await fails(s, "add_memory", text="a", messages=[{"content": "b"}])
        assert await fails(s, "list_memories", cursor="garbage")  # the core refuses the cursor
        assert "invalid cursor" in await fails(s, "list_memories", cursor="garbage")
        # argument validation by the SDK (input schema) is a tool error too
        assert await fails(s, "update_memory", memory_id="x", text="")
        assert await fails(s, "search_memories", query="x", limit=0)


async def test_hostile_arguments_are_refused_and_write_nothing(connect: Connect) -> None:
    async with connect("alice") as s:
        huge = "a" * (mcp_tools.MAX_TEXT_CHARS + 1)
        assert await fails(s, "add_memory", text=huge, infer=False)
        assert await fails(s, "search_memories", query=huge)
        many = [{"role": "user", "content": "I like tea"}] * (mcp_tools.MAX_MESSAGES + 1)
        assert await fails(s, "add_memory", messages=many)
        long_total = [{"role": "user", "content": "b" * 19_000}] * 6
        assert "the limit is" in await fails(s, "add_memory", messages=long_total)
        big_meta = {f"k{i}": "v" * 100 for i in range(200)}
        assert "bytes; the limit is" in await fails(s, "add_memory", text="I like tea", metadata=big_meta)
        assert await fails(s, "search_memories", query="x", limit=10**9)
        assert await fails(s, "list_memories", limit=10**6)
        assert await fails(s, "get_memory", memory_id="x" * (mcp_tools.MAX_ID_CHARS + 1))
        assert await fails(s, "add_memory", messages=[{"role": "god", "content": "I like tea"}])
        assert await fails(s, "add_memory", text="")
        assert await fails(s, "add_memory", messages=[])

        # scope fields smuggled into metadata or filters are refused, at any depth
        for metadata in ({"user_id": "bob"}, {"nested": {"agent_id": "x"}}, {"list": [{"run_id": "r"}]}):
            text = await fails(s, "add_memory", text="I like tea", infer=False, metadata=metadata)
            assert "scope comes from the connection" in text
        for filters in ({"user_id": "bob"}, {"metadata.user_id": "bob"},
                        {"OR": [{"topic": "x"}, {"user_id": {"eq": "bob"}}]}, {"NOT": {"run_id": "r"}}):
            assert "scope comes from the connection" in await fails(
                s, "search_memories", query="tea", filters=filters)
        memory_id = (await ok(s, "add_memory", text="plain", infer=False))["events"][0]["id"]
        assert "scope comes from the connection" in await fails(
            s, "update_memory", memory_id=memory_id, text="x", metadata={"user_id": "bob"})

        listed = await ok(s, "list_memories", include_deleted=True)
        assert [r["text"] for r in listed["records"]] == ["plain"], "a refused call wrote something"
