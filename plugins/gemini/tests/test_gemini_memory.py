"""End to end: a Memory configured by name (entry points) with the Gemini LLM and
embedder, through the loopback server."""

from __future__ import annotations

from memplane.memory import Memory
from memplane_gemini.testing import GeminiLoopback


def test_add_then_search(server: GeminiLoopback) -> None:
    config = {
        "llm": {"provider": "gemini", "config": server.llm_config()},
        "embedder": {"provider": "gemini", "config": server.llm_config(output_dimensionality=256)},
        "vector_store": "memory",
    }
    server.enqueue_structured({"decisions": [
        {"event": "ADD", "text": "User lives in Lisbon"},
        {"event": "ADD", "text": "User drinks green tea"},
    ]})
    with Memory(config) as memory:
        result = memory.add("I live in Lisbon and drink green tea.", user_id="alice")
        assert sorted(e.text for e in result.by_event("ADD")) == [
            "User drinks green tea", "User lives in Lisbon"]
        hits = memory.search("Where does the user live, Lisbon?", user_id="alice")

    assert hits[0].text == "User lives in Lisbon"
    generate = [r for r in server.requests if r.extra["endpoint"] == "generateContent"]
    assert len(generate) == 1 and "decisions" in str(server.json_schema_of(generate[0]))
    task_types = [item["taskType"] for r in server.requests
                  if r.extra["endpoint"] == "batchEmbedContents" for item in r.body["requests"]]
    assert "RETRIEVAL_DOCUMENT" in task_types and task_types[-1] == "RETRIEVAL_QUERY"
    assert server.problems == []
