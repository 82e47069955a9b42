"""The OpenAI LLM against the loopback server: real SDK, real HTTP."""

from __future__ import annotations

import asyncio
import json

import pytest

from memplane.errors import ConfigurationError
from memplane.models import ChatMessage, DecisionList
from memplane_openai.testing import OpenAILoopback

DECISIONS = DecisionList.model_json_schema()
USER = [ChatMessage(role="system", content="You keep memories."),
        ChatMessage(role="user", content="I moved to Lisbon last year")]
ANSWER = {"decisions": [{"event": "ADD", "id": None, "text": "Lives in Lisbon",
                         "reason": "new fact", "attributed_to": "user"}]}


def test_structured_output_sends_a_strict_schema_and_parses_the_answer(server, make_llm):
    llm = make_llm(model="gpt-4o-mini")
    server.enqueue_structured(ANSWER)
    response = llm.generate(USER, json_schema=DECISIONS, schema_name="memory decisions")

    assert response.structured == ANSWER
    [request] = server.requests
    fmt = request.body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["name"] == "memory_decisions"  # made API-safe
    sent = server.json_schema_of(request)
    assert sent is not None and sent["required"] == ["decisions"]
    decision = sent["$defs"]["Decision"]
    assert sorted(decision["required"]) == sorted(decision["properties"])
    assert request.body["model"] == "gpt-4o-mini"
    assert [m["role"] for m in request.body["messages"]] == ["system", "user"]


def test_usage_is_what_the_server_reported(server, make_llm):
    server.enqueue_text("Noted.")
    response = make_llm().generate(USER)
    reported = server.requests[0].extra["usage"]
    assert response.usage.llm_calls == 1
    assert response.usage.prompt_tokens == reported["prompt_tokens"] > 0
    assert response.usage.completion_tokens == reported["completion_tokens"] > 0
    assert response.text == "Noted." and response.structured is None
    assert response.finish_reason == "stop"


def test_optional_fields_made_nullable_for_strict_mode_are_removed_again(server, make_llm):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "default": 0}},
        "required": ["name"],
    }
    server.enqueue_structured({"name": "Ada", "age": None})
    response = make_llm().generate(USER, json_schema=schema)
    sent = server.json_schema_of(server.requests[0])
    assert sent["properties"]["age"]["type"] == ["integer", "null"]
    assert response.structured == {"name": "Ada"}


def test_open_schema_is_sent_non_strict(server, make_llm):
    schema = {"type": "object", "properties": {"tags": {"type": "object"}},
              "additionalProperties": True}
    server.enqueue_structured({"tags": {"a": 1}})
    response = make_llm().generate(USER, json_schema=schema)
    fmt = server.requests[0].body["response_format"]["json_schema"]
    assert fmt["strict"] is False and fmt["schema"] == schema
    assert response.structured == {"tags": {"a": 1}}


def test_json_mode_fallback_puts_the_schema_in_the_prompt(server, make_llm):
    llm = make_llm(structured_output="json_object")
    assert llm.has("json_mode") and not llm.has("json_schema")
    server.enqueue_text(json.dumps(ANSWER))
    response = llm.generate(USER, json_schema=DECISIONS)

    body = server.requests[0].body
    assert body["response_format"] == {"type": "json_object"}
    assert server.json_schema_of(server.requests[0]) is None
    instruction = body["messages"][0]
    assert instruction["role"] == "system" and "JSON schema" in instruction["content"]
    assert json.loads(instruction["content"].split("\n", 1)[1]) == DECISIONS
    assert response.structured == ANSWER


def test_text_mode_sends_no_response_format_and_leaves_parsing_to_the_core(server, make_llm):
    llm = make_llm(structured_output="text")
    assert not llm.has("json_mode") and llm.has("async_native")
    server.enqueue_text('Sure! {"decisions": []}')
    response = llm.generate(USER, json_schema=DECISIONS)
    assert "response_format" not in server.requests[0].body
    assert response.structured is None and response.text.endswith('{"decisions": []}')


def test_unparsable_structured_answer_is_returned_as_text(server, make_llm):
    server.enqueue_text('{"decisions": [')  # e.g. cut off by the token limit
    response = make_llm().generate(USER, json_schema=DECISIONS)
    assert response.structured is None and response.text == '{"decisions": ['


def test_options_reach_the_request(server, make_llm):
    server.enqueue_text("ok")
    server.enqueue_text("ok")
    make_llm(temperature=0.0, max_tokens=300).generate(USER)
    make_llm(max_tokens_param="max_tokens").generate(USER, max_tokens=50)
    first, second = (r.body for r in server.requests)
    assert first["temperature"] == 0.0 and first["max_completion_tokens"] == 300
    assert second["max_tokens"] == 50 and "max_completion_tokens" not in second
    assert "temperature" not in second


def test_tool_messages_and_names_are_made_valid_for_the_api(server, make_llm):
    server.enqueue_text("ok")
    make_llm().generate([
        ChatMessage(role="user", content="hi", name="Ada Lovelace"),
        ChatMessage(role="tool", content="42"),
    ])
    user, tool = server.requests[0].body["messages"]
    assert user["name"] == "Ada_Lovelace"
    assert tool["role"] == "user" and "42" in tool["content"]


def test_organization_and_extra_headers_are_sent(server, make_llm):
    server.enqueue_text("ok")
    make_llm(organization="org-mem", project="proj-1",
             default_headers={"x-team": "memory"}).generate(USER)
    headers = server.requests[0].headers
    assert headers["openai-organization"] == "org-mem"
    assert headers["openai-project"] == "proj-1"
    assert headers["x-team"] == "memory"
    assert headers["authorization"] == f"Bearer {server.api_key}"


async def test_async_generate_uses_the_native_async_client(server, make_llm):
    llm = make_llm()
    server.enqueue_structured(ANSWER)
    server.enqueue_structured({"decisions": []})
    first, second = await asyncio.gather(
        llm.agenerate(USER, json_schema=DECISIONS), llm.agenerate(USER, json_schema=DECISIONS)
    )
    assert sorted(len(r.structured["decisions"]) for r in (first, second)) == [0, 1]
    assert all(r.headers["x-stainless-async"].startswith("async") for r in server.requests)
    await llm.aclose()


def test_missing_api_key_is_a_configuration_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    from memplane_openai.llm import OpenAILLM

    with pytest.raises(ConfigurationError, match="api_key"):
        OpenAILLM({"base_url": "http://127.0.0.1:9/v1"})


def test_unknown_config_key_is_refused():
    from memplane_openai.llm import OpenAILLM

    with pytest.raises(ConfigurationError, match="temprature"):
        OpenAILLM({"api_key": "k", "temprature": 0})


def test_the_server_refuses_what_the_real_api_refuses():
    """The loopback checks are what give the tests above their teeth."""
    import urllib.error
    import urllib.request

    def post(srv: OpenAILoopback, body: dict, key: str = "sk-loopback") -> int:
        req = urllib.request.Request(
            f"{srv.base_url}/chat/completions", data=json.dumps(body).encode(),
            headers={"content-type": "application/json", "authorization": f"Bearer {key}"},
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    msgs = [{"role": "user", "content": "hi"}]
    loose = {"type": "object", "properties": {"a": {"type": "string"}}}
    with OpenAILoopback() as srv:
        srv.enqueue_text("x")
        assert post(srv, {"model": "m", "messages": msgs}, key="wrong") == 401
        assert post(srv, {"messages": msgs}) == 400
        assert post(srv, {"model": "m", "messages": []}) == 400
        assert post(srv, {"model": "m", "messages": [{"role": "tool", "content": "1"}]}) == 400
        assert post(srv, {"model": "m", "messages": msgs,
                          "response_format": {"type": "json_object"}}) == 400
        assert post(srv, {"model": "m", "messages": msgs, "response_format": {
            "type": "json_schema", "json_schema": {"name": "r", "schema": loose, "strict": True}}}) == 400
        assert len(srv.problems) == 5  # the 401 is a refusal, not a protocol violation
        assert post(srv, {"model": "m", "messages": msgs}) == 200


def test_refusal_is_text_with_finish_reason_refusal(server, make_llm):
    server.enqueue_refusal("I can't help with that.")
    response = make_llm().generate(USER, json_schema=DECISIONS)
    assert response.structured is None
    assert response.text == "I can't help with that." and response.finish_reason == "refusal"
