"""GeminiLLM through the real google-genai SDK against the loopback REST server."""

from __future__ import annotations

import pytest

from memplane.errors import (
    AuthenticationError,
    ConfigurationError,
    ProviderError,
    ProviderTimeout,
    RateLimitError,
    ValidationError,
)
from memplane.models import ChatMessage
from memplane_conformance.samples import CONVERSATION as MESSAGES
from memplane_conformance.samples import FACTS_SCHEMA as SCHEMA
from memplane_gemini.llm import GeminiLLM
from memplane_gemini.testing import GeminiLoopback


def test_structured_output_sends_schema_system_instruction_and_turns(server: GeminiLoopback) -> None:
    server.enqueue_structured({"facts": ["lives in Lisbon", "likes tea"]})
    llm = GeminiLLM(server.llm_config(model="gemini-2.5-flash", temperature=0.2))

    response = llm.generate(MESSAGES, json_schema=SCHEMA, schema_name="facts", max_tokens=256)

    assert response.structured == {"facts": ["lives in Lisbon", "likes tea"]}
    [request] = server.requests
    assert request.path == "/v1/models/gemini-2.5-flash:generateContent"
    assert request.headers["x-goog-api-key"] == server.api_key
    body = request.body
    assert body["systemInstruction"]["parts"] == [{"text": "Extract facts."}]
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["contents"][2]["parts"] == [{"text": "And I like tea."}]
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert server.json_schema_of(request) == SCHEMA
    assert config["maxOutputTokens"] == 256
    assert config["temperature"] == 0.2
    assert server.problems == []


def test_usage_model_and_finish_reason_come_from_the_response(server: GeminiLoopback) -> None:
    server.enqueue_text("plain answer", usage=(123, 45))
    response = GeminiLLM(server.llm_config()).generate(MESSAGES)

    assert response.text == "plain answer"
    assert response.structured is None
    assert (response.usage.llm_calls, response.usage.prompt_tokens,
            response.usage.completion_tokens) == (1, 123, 45)
    assert response.model == "loopback-gemini"
    assert response.finish_reason == "STOP"
    assert "responseMimeType" not in server.requests[0].body.get("generationConfig", {})


def test_truncated_json_leaves_structured_empty_for_the_core_to_repair(server: GeminiLoopback) -> None:
    server.enqueue_text('{"facts": ["lives in Lis', finish_reason="MAX_TOKENS")
    response = GeminiLLM(server.llm_config()).generate(MESSAGES, json_schema=SCHEMA)
    assert response.structured is None
    assert response.text == '{"facts": ["lives in Lis'
    assert response.finish_reason == "MAX_TOKENS"


def test_consecutive_roles_are_merged_and_tool_results_labelled(server: GeminiLoopback) -> None:
    server.enqueue_text("ok")
    GeminiLLM(server.llm_config()).generate([
        ChatMessage(role="user", content="first"),
        ChatMessage(role="tool", content="42", name="calc"),
        ChatMessage(role="system", content="late system note"),
    ])
    body = server.requests[0].body
    assert len(body["contents"]) == 1
    assert body["contents"][0]["parts"] == [{"text": "first"}, {"text": "[tool result calc]\n42"}]
    assert body["systemInstruction"]["parts"] == [{"text": "late system note"}]


def test_thinking_budget_is_forwarded(server: GeminiLoopback) -> None:
    server.enqueue_text("ok")
    GeminiLLM(server.llm_config(thinking_budget=0)).generate(MESSAGES)
    thinking = server.requests[0].body["generationConfig"]["thinkingConfig"]
    # the SDK passes this block through in snake_case; the API accepts either spelling
    assert thinking.get("thinkingBudget", thinking.get("thinking_budget")) == 0


def test_only_system_messages_is_a_validation_error_without_a_request(server: GeminiLoopback) -> None:
    with pytest.raises(ValidationError, match="user or assistant"):
        GeminiLLM(server.llm_config()).generate([ChatMessage(role="system", content="x")])
    assert server.requests == []


def test_api_key_falls_back_to_the_environment(server: GeminiLoopback,
                                               clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("GEMINI_API_KEY", server.api_key)
    config = server.llm_config()
    del config["api_key"]
    server.enqueue_text("ok")
    assert GeminiLLM(config).generate(MESSAGES).text == "ok"


def test_missing_api_key_is_a_configuration_error(server: GeminiLoopback) -> None:
    config = server.llm_config()
    del config["api_key"]
    with pytest.raises(ConfigurationError, match="GEMINI_API_KEY"):
        GeminiLLM(config).generate(MESSAGES)


def test_unknown_config_key_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="temprature"):
        GeminiLLM({"temprature": 0.5})


def test_invalid_key_is_an_authentication_error_and_not_retried(server: GeminiLoopback) -> None:
    llm = GeminiLLM(server.llm_config(api_key="wrong-key", max_retries=3))
    with pytest.raises(AuthenticationError, match="API key"):
        llm.generate(MESSAGES)
    assert len(server.requests) == 1


def test_auth_fault_is_not_retried(server: GeminiLoopback) -> None:
    server.enqueue_fault("auth")
    with pytest.raises(AuthenticationError):
        GeminiLLM(server.llm_config(max_retries=3)).generate(MESSAGES)
    assert len(server.requests) == 1


def test_rate_limit_is_retried_then_succeeds(server: GeminiLoopback) -> None:
    server.enqueue_fault("rate_limit", retry_after=0)
    server.enqueue_text("after the wait")
    assert GeminiLLM(server.llm_config(max_retries=1)).generate(MESSAGES).text == "after the wait"
    assert [r.extra.get("fault") for r in server.requests] == ["rate_limit", None]


def test_rate_limit_carries_the_servers_retry_delay(server: GeminiLoopback) -> None:
    server.enqueue_fault("rate_limit", retry_after=7)
    with pytest.raises(RateLimitError) as caught:
        GeminiLLM(server.llm_config(max_retries=0)).generate(MESSAGES)
    assert caught.value.retry_after == 7.0
    assert caught.value.retryable


def test_retry_delay_is_read_from_retry_info_without_a_header() -> None:
    from google.genai import errors as genai_errors

    from memplane_gemini.errors import map_error

    exc = genai_errors.APIError(429, {"error": {
        "code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota",
        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12.5s"}],
    }})
    error = map_error(exc)
    assert isinstance(error, RateLimitError) and error.retry_after == 12.5


def test_server_errors_are_retried_up_to_max_retries(server: GeminiLoopback) -> None:
    for _ in range(4):
        server.enqueue_fault("server_error")
    with pytest.raises(ProviderError) as caught:
        GeminiLLM(server.llm_config(max_retries=2)).generate(MESSAGES)
    assert caught.value.retryable
    assert len(server.requests) == 3  # one call plus two retries


def test_timeout_maps_to_provider_timeout(server: GeminiLoopback) -> None:
    server.enqueue_fault("timeout")
    with pytest.raises(ProviderTimeout, match="timeout"):
        GeminiLLM(server.llm_config(timeout=1, max_retries=0)).generate(MESSAGES)
    assert len(server.requests) == 1


def test_malformed_body_is_a_retryable_provider_error(server: GeminiLoopback) -> None:
    # a cut-off body is a transport or proxy accident: worth another attempt
    server.enqueue_fault("malformed")
    with pytest.raises(ProviderError, match="could not be decoded") as caught:
        GeminiLLM(server.llm_config(max_retries=0)).generate(MESSAGES)
    assert caught.value.retryable
    assert len(server.requests) == 1


def test_vertex_mode_uses_project_location_and_bearer_token(server: GeminiLoopback) -> None:
    server.enqueue_structured({"facts": []})
    llm = GeminiLLM(server.vertex_config(model="gemini-2.5-pro"))
    assert llm.generate(MESSAGES, json_schema=SCHEMA).structured == {"facts": []}
    [request] = server.requests
    assert request.path == ("/v1beta1/projects/loopback-project/locations/us-central1/"
                            "publishers/google/models/gemini-2.5-pro:generateContent")
    assert request.headers["authorization"] == f"Bearer {server.access_token}"
    assert "x-goog-api-key" not in request.headers
    assert server.json_schema_of(request) == SCHEMA


def test_vertex_project_and_location_fall_back_to_the_environment(
        server: GeminiLoopback, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("GOOGLE_CLOUD_PROJECT", server.project)
    config = server.vertex_config()
    del config["project"], config["location"]
    server.enqueue_text("ok")
    assert GeminiLLM(config).generate(MESSAGES).text == "ok"
    assert "/locations/us-central1/" in server.requests[0].path


def test_vertex_without_a_project_is_a_configuration_error(server: GeminiLoopback) -> None:
    config = server.vertex_config()
    del config["project"]
    with pytest.raises(ConfigurationError, match="GOOGLE_CLOUD_PROJECT"):
        GeminiLLM(config).generate(MESSAGES)


def test_vertex_wrong_token_is_an_authentication_error(server: GeminiLoopback) -> None:
    with pytest.raises(AuthenticationError):
        GeminiLLM(server.vertex_config(access_token="stale")).generate(MESSAGES)


async def test_async_generate_uses_the_native_async_client(server: GeminiLoopback) -> None:
    server.enqueue_structured({"facts": ["async"]})
    llm = GeminiLLM(server.llm_config())
    assert "async_native" in llm.capabilities
    response = await llm.agenerate(MESSAGES, json_schema=SCHEMA)
    assert response.structured == {"facts": ["async"]}
    assert response.usage.llm_calls == 1
    await llm.aclose()


async def test_async_retries_and_error_mapping(server: GeminiLoopback) -> None:
    server.enqueue_fault("server_error")
    server.enqueue_fault("rate_limit", retry_after=0)
    server.enqueue_text("third time")
    llm = GeminiLLM(server.llm_config(max_retries=2))
    assert (await llm.agenerate(MESSAGES)).text == "third time"
    assert len(server.requests) == 3
    server.enqueue_fault("auth")
    with pytest.raises(AuthenticationError):
        await llm.agenerate(MESSAGES)
    assert len(server.requests) == 4


def test_vertex_express_mode_uses_an_api_key_without_a_project(server: GeminiLoopback) -> None:
    server.enqueue_text("express")
    llm = GeminiLLM({"vertexai": True, "api_key": server.api_key, "base_url": server.base_url})
    assert llm.generate(MESSAGES).text == "express"
    [request] = server.requests
    assert request.path == "/v1beta1/publishers/google/models/gemini-2.5-flash:generateContent"
    assert request.headers["x-goog-api-key"] == server.api_key


def test_a_timeout_is_retried(server: GeminiLoopback) -> None:
    server.enqueue_fault("timeout")
    server.enqueue_text("second try")
    assert GeminiLLM(server.llm_config(timeout=1, max_retries=1)).generate(MESSAGES).text == "second try"
    assert len(server.requests) == 2


def test_an_unreachable_endpoint_is_a_retryable_provider_error(clean_env: pytest.MonkeyPatch) -> None:
    with GeminiLoopback() as gone:
        config = gone.llm_config(max_retries=0)
    with pytest.raises(ProviderError, match="could not reach") as caught:
        GeminiLLM(config).generate(MESSAGES)
    assert caught.value.retryable


def test_a_blocked_prompt_is_a_non_retryable_provider_error(server: GeminiLoopback) -> None:
    server.enqueue_blocked("SAFETY")
    with pytest.raises(ProviderError, match="SAFETY") as caught:
        GeminiLLM(server.llm_config(max_retries=2)).generate(MESSAGES)
    assert not caught.value.retryable
    assert len(server.requests) == 1
