"""The Anthropic LLM against the loopback server: real SDK, real HTTP."""

from __future__ import annotations

import asyncio
import json

import pytest

from memplane.errors import ConfigurationError, ValidationError
from memplane.models import ChatMessage, DecisionList
from memplane_anthropic.llm import conversation
from memplane_anthropic.testing import AnthropicLoopback

DECISIONS = DecisionList.model_json_schema()
CHAT = [ChatMessage(role="system", content="You keep memories."),
        ChatMessage(role="user", content="I moved to Lisbon last year")]
ANSWER = {"decisions": [{"event": "ADD", "text": "Lives in Lisbon"}]}


def test_structured_output_is_a_forced_tool_call(server, make_llm):
    server.enqueue_structured(ANSWER)
    response = make_llm().generate(CHAT, json_schema=DECISIONS, schema_name="memory decisions")

    assert response.structured == ANSWER
    assert json.loads(response.text) == ANSWER
    assert response.finish_reason == "tool_use"
    [request] = server.requests
    body = request.body
    assert body["tool_choice"] == {"type": "tool", "name": "memory_decisions"}
    [tool] = body["tools"]
    assert tool["name"] == "memory_decisions" and tool["input_schema"] == DECISIONS
    assert server.json_schema_of(request) == DECISIONS
    assert body["system"] == "You keep memories."
    assert body["messages"] == [{"role": "user", "content": "I moved to Lisbon last year"}]


def test_usage_and_model_come_from_the_response(server, make_llm):
    server.enqueue_text("Noted.")
    response = make_llm(model="claude-test-model").generate(CHAT)
    reported = server.requests[0].extra["usage"]
    assert response.text == "Noted." and response.structured is None
    assert response.usage.llm_calls == 1
    assert response.usage.prompt_tokens == reported["input_tokens"] > 0
    assert response.usage.completion_tokens == reported["output_tokens"] > 0
    assert response.model == "claude-test-model" and response.finish_reason == "end_turn"
    assert "tools" not in server.requests[0].body


def test_non_object_schema_is_wrapped_and_unwrapped(server, make_llm):
    schema = {"type": "array", "items": {"type": "string"}}
    server.enqueue_structured({"value": ["a", "b"]})
    response = make_llm().generate(CHAT, json_schema=schema)
    sent = server.json_schema_of(server.requests[0])
    assert sent == {"type": "object", "properties": {"value": schema}, "required": ["value"]}
    # a list is not a structured object; the text keeps it for the core's parser
    assert response.structured is None and json.loads(response.text) == ["a", "b"]


def test_text_mode_puts_the_schema_in_the_system_prompt(server, make_llm):
    llm = make_llm(structured_output="text")
    assert not llm.has("json_schema") and llm.has("async_native")
    server.enqueue_text(json.dumps(ANSWER))
    response = llm.generate(CHAT, json_schema=DECISIONS)
    body = server.requests[0].body
    assert "tools" not in body and "tool_choice" not in body
    assert body["system"].startswith("You keep memories.") and "JSON schema" in body["system"]
    assert response.structured is None and json.loads(response.text) == ANSWER


def test_options_reach_the_request(server, make_llm):
    server.enqueue_text("ok")
    server.enqueue_text("ok")
    make_llm(max_tokens=123, temperature=0.2, default_headers={"x-team": "mem"}).generate(CHAT)
    make_llm().generate(CHAT, max_tokens=7)
    first, second = server.requests
    assert first.body["max_tokens"] == 123 and first.body["temperature"] == 0.2
    assert first.headers["x-team"] == "mem" and first.headers["anthropic-version"]
    assert second.body["max_tokens"] == 7 and "temperature" not in second.body


def test_conversation_alternates_and_starts_with_user():
    system, turns = conversation([
        ChatMessage(role="system", content="a"),
        ChatMessage(role="assistant", content="hello"),
        ChatMessage(role="user", content="one"),
        ChatMessage(role="tool", content="42"),
        ChatMessage(role="system", content="b"),
        ChatMessage(role="user", content="two", name="Ada"),
    ])
    assert system == "a\n\nb"
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[2]["content"] == "one\n\nTool output:\n42\n\nAda: two"
    with pytest.raises(ValidationError, match="at least one"):
        conversation([ChatMessage(role="system", content="only a system prompt")])


def test_merged_conversation_is_accepted_by_the_server(server, make_llm):
    server.enqueue_text("ok")
    make_llm().generate([ChatMessage(role="assistant", content="Hi!"),
                         ChatMessage(role="user", content="a"),
                         ChatMessage(role="user", content="b")])
    assert [m["role"] for m in server.requests[0].body["messages"]] == ["user", "assistant", "user"]


async def test_async_generate_uses_the_native_async_client(server, make_llm):
    llm = make_llm()
    server.enqueue_structured(ANSWER)
    server.enqueue_structured({"decisions": []})
    results = await asyncio.gather(llm.agenerate(CHAT, json_schema=DECISIONS),
                                   llm.agenerate(CHAT, json_schema=DECISIONS))
    assert sorted(len(r.structured["decisions"]) for r in results) == [0, 1]
    assert all(r.headers["x-stainless-async"].startswith("async") for r in server.requests)
    await llm.aclose()


def test_missing_api_key_is_a_configuration_error(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    from memplane_anthropic.llm import AnthropicLLM

    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        AnthropicLLM({})


def test_the_server_refuses_what_the_real_api_refuses():
    """The loopback checks are what give the tests above their teeth."""
    import urllib.error
    import urllib.request

    def post(srv: AnthropicLoopback, body: dict, *, key: str = "sk-ant-loopback",
             version: str | None = "2023-06-01") -> int:
        headers = {"content-type": "application/json", "x-api-key": key}
        if version:
            headers["anthropic-version"] = version
        req = urllib.request.Request(f"{srv.base_url}/v1/messages",
                                     data=json.dumps(body).encode(), headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    ok = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    tool = {"name": "t", "input_schema": {"type": "object"}}
    with AnthropicLoopback() as srv:
        srv.enqueue_text("x")
        assert post(srv, ok, key="wrong") == 401
        assert post(srv, ok, version=None) == 400
        assert post(srv, {**ok, "max_tokens": None}) == 400
        assert post(srv, {**ok, "messages": [{"role": "system", "content": "s"}]}) == 400
        assert post(srv, {**ok, "tools": [tool], "tool_choice": {"type": "tool", "name": "x"}}) == 400
        assert post(srv, {**ok, "tools": [{"name": "t", "input_schema": {"type": "array"}}]}) == 400
        assert len(srv.problems) == 5
        assert post(srv, {**ok, "tools": [tool], "tool_choice": {"type": "tool", "name": "t"}}) == 200
