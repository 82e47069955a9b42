"""Memory configured by provider name (entry points), on the loopback server and a
real SQLite store: the path a user's memplane.yaml takes."""

from __future__ import annotations

from memplane.async_memory import AsyncMemory
from memplane.memory import Memory
from memplane_anthropic.testing import AnthropicLoopback


def _config(server: AnthropicLoopback, tmp_path) -> dict:
    return {
        "llm": {"provider": "anthropic", "config": {
            "base_url": server.base_url, "api_key": server.api_key, "max_retries": 0}},
        "embedder": {"provider": "hashing", "config": {"dimension": 64}},
        "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "m.db")}},
    }


def test_add_delete_through_the_forced_tool_call(server, tmp_path):
    with Memory(_config(server, tmp_path)) as memory:
        server.enqueue_structured({"decisions": [{"event": "ADD", "text": "Has a cat named Miso"}]})
        [added] = memory.add("I have a cat named Miso", user_id="ada").events
        assert added.event == "ADD"

        server.enqueue_structured({"decisions": [{"event": "DELETE", "id": 0}]})
        result = memory.add("Forget that I have a cat", user_id="ada")
        assert [(e.event, e.id) for e in result.events] == [("DELETE", added.id)]
        assert memory.search("cat", user_id="ada") == []
        assert result.usage.prompt_tokens > 0

    for request in server.requests:
        assert request.body["tool_choice"]["type"] == "tool"
        assert "decisions" in str(server.json_schema_of(request))


async def test_async_memory_with_the_configured_provider(server, tmp_path):
    async with AsyncMemory(_config(server, tmp_path)) as memory:
        server.enqueue_structured({"decisions": [{"event": "ADD", "text": "Lives in Lisbon"}]})
        result = await memory.add("I moved to Lisbon", user_id="ada")
        assert [e.event for e in result.events] == ["ADD"]
    assert server.requests[0].headers["x-stainless-async"].startswith("async")
