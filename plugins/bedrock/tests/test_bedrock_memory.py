"""End to end: a Memory configured by name (entry points) with the Bedrock LLM, Cohere
embedder and Cohere reranker, all through the loopback server."""

from __future__ import annotations

from memplane.memory import Memory
from memplane_bedrock.testing import BedrockLoopback


def test_add_then_search_with_rerank(server: BedrockLoopback) -> None:
    config = {
        "llm": {"provider": "bedrock", "config": server.client_config(model="amazon.nova-lite-v1:0")},
        "embedder": {"provider": "bedrock",
                     "config": server.client_config(model="cohere.embed-english-v3")},
        "reranker": {"provider": "bedrock", "config": server.client_config(model="cohere.rerank-v3-5:0")},
        "vector_store": "memory",
        "search": {"rerank": True},
    }
    server.enqueue_structured({"decisions": [
        {"event": "ADD", "text": "User lives in Lisbon"},
        {"event": "ADD", "text": "User drinks green tea"},
    ]})
    with Memory(config) as memory:
        result = memory.add("I live in Lisbon and drink green tea.", user_id="alice")
        assert sorted(e.text for e in result.by_event("ADD")) == [
            "User drinks green tea", "User lives in Lisbon"]
        assert result.usage.prompt_tokens > 0

        hits = memory.search("Where does the user live, Lisbon?", user_id="alice")

    assert hits[0].text == "User lives in Lisbon"
    operations = [r.extra.get("operation") for r in server.requests]
    assert operations.count("converse") == 1 and operations[-1] == "rerank"
    converse = next(r for r in server.requests if r.extra.get("operation") == "converse")
    assert "decisions" in str(server.json_schema_of(converse))
    input_types = [r.body["input_type"] for r in server.requests if r.extra.get("operation") == "invoke"]
    assert "search_document" in input_types and input_types[-1] == "search_query"
    assert server.problems == []
