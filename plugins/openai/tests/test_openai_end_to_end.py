"""Memory configured by provider name (entry points), on the loopback server and a
real SQLite store: the path a user's memplane.yaml takes."""

from __future__ import annotations

from memplane.async_memory import AsyncMemory
from memplane.memory import Memory
from memplane_openai.testing import OpenAILoopback


def _config(server: OpenAILoopback, tmp_path) -> dict:
    connection = {"base_url": server.base_url, "api_key": server.api_key, "max_retries": 0}
    return {
        "llm": {"provider": "openai", "config": {"model": "gpt-4o-mini", **connection}},
        "embedder": {"provider": "openai", "config": {"dimensions": 32, **connection}},
        "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "m.db")}},
    }


def test_add_update_and_search_through_configured_providers(server, tmp_path):
    with Memory(_config(server, tmp_path)) as memory:
        server.enqueue_structured({"decisions": [{"event": "ADD", "text": "Prefers Python"}]})
        added = memory.add("I mostly write Python", user_id="ada")
        [event] = added.events
        assert event.event == "ADD" and added.usage.llm_calls == 1

        server.enqueue_structured({"decisions": [
            {"event": "UPDATE", "id": 0, "text": "Switched from Python to TypeScript"}]})
        updated = memory.add("I switched to TypeScript", user_id="ada")
        assert [(e.event, e.id) for e in updated.events] == [("UPDATE", event.id)]

        hits = memory.search("TypeScript", user_id="ada")
        assert hits[0].record.text == "Switched from Python to TypeScript"
        assert [h.old_text for h in memory.history(event.id, user_id="ada")][-1] == "Prefers Python"

    chat = [r for r in server.requests if r.extra.get("operation") == "chat"]
    assert len(chat) == 2 and all(server.json_schema_of(r) for r in chat)
    assert any(r.extra.get("operation") == "embeddings" for r in server.requests)


async def test_async_memory_with_configured_providers(server, tmp_path):
    async with AsyncMemory(_config(server, tmp_path)) as memory:
        server.enqueue_structured({"decisions": [{"event": "ADD", "text": "Lives in Lisbon"}]})
        result = await memory.add("I moved to Lisbon", user_id="ada")
        assert [e.event for e in result.events] == ["ADD"]
        hits = await memory.search("Lisbon", user_id="ada")
        assert hits[0].record.text == "Lives in Lisbon"
    assert any(r.headers["x-stainless-async"].startswith("async") for r in server.requests)
