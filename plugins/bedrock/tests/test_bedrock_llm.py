"""BedrockLLM through the real boto3 Converse client against the loopback server."""

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
from memplane_bedrock.llm import BedrockLLM
from memplane_bedrock.testing import BedrockLoopback
from memplane_conformance.samples import CONVERSATION as MESSAGES
from memplane_conformance.samples import FACTS_SCHEMA as SCHEMA

CLAUDE = "us.anthropic.claude-3-5-haiku-20241022-v1:0"


def test_structured_output_is_a_forced_tool_call(server: BedrockLoopback) -> None:
    server.enqueue_structured({"facts": ["lives in Lisbon"]})
    llm = BedrockLLM(server.client_config(model=CLAUDE, temperature=0.3))

    response = llm.generate(MESSAGES, json_schema=SCHEMA, schema_name="fact list", max_tokens=300)

    assert response.structured == {"facts": ["lives in Lisbon"]}
    assert response.finish_reason == "tool_use"
    [request] = server.requests
    assert request.path == f"/model/{CLAUDE}/converse"
    body = request.body
    tool = body["toolConfig"]["tools"][0]["toolSpec"]
    assert tool["name"] == "fact_list"  # sanitised to Bedrock's tool-name alphabet
    assert tool["inputSchema"] == {"json": SCHEMA}
    assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "fact_list"}}
    assert server.json_schema_of(request) == SCHEMA
    assert body["system"] == [{"text": "Extract facts."}]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["inferenceConfig"] == {"maxTokens": 300, "temperature": 0.3}
    assert server.problems == []


def test_request_is_signed_for_bedrock_in_the_configured_region(server: BedrockLoopback) -> None:
    server.enqueue_text("ok")
    BedrockLLM(server.client_config()).generate(MESSAGES)
    signature = server.requests[0].extra["signature"]
    assert (signature["key"], signature["region"], signature["service"]) == (
        server.access_key_id, "us-east-1", "bedrock")


def test_text_reply_usage_and_stop_reason(server: BedrockLoopback) -> None:
    server.enqueue_text("plain answer", usage=(321, 12))
    response = BedrockLLM(server.client_config()).generate(MESSAGES)
    assert response.text == "plain answer" and response.structured is None
    assert (response.usage.llm_calls, response.usage.prompt_tokens,
            response.usage.completion_tokens) == (1, 321, 12)
    assert response.finish_reason == "end_turn"
    assert "toolConfig" not in server.requests[0].body


def test_text_instead_of_the_tool_call_leaves_structured_empty(server: BedrockLoopback) -> None:
    server.enqueue_text('Here you go: {"facts": []}')
    response = BedrockLLM(server.client_config()).generate(MESSAGES, json_schema=SCHEMA)
    assert response.structured is None
    assert response.text == 'Here you go: {"facts": []}'


def test_structured_output_none_sends_no_tools(server: BedrockLoopback) -> None:
    llm = BedrockLLM(server.client_config(model="meta.llama3-8b-instruct-v1:0",
                                          structured_output="none"))
    assert not llm.has("json_schema")
    server.enqueue_text('{"facts": []}')
    llm.generate(MESSAGES, json_schema=SCHEMA)
    assert "toolConfig" not in server.requests[0].body


def test_roles_are_merged_to_alternate(server: BedrockLoopback) -> None:
    server.enqueue_text("ok")
    BedrockLLM(server.client_config()).generate([
        ChatMessage(role="system", content=" "),
        ChatMessage(role="user", content="first"),
        ChatMessage(role="tool", content="42", name="calc"),
        ChatMessage(role="assistant", content="   "),
        ChatMessage(role="user", content="again"),
    ])
    assert "system" not in server.requests[0].body  # Bedrock rejects blank text blocks
    [message] = server.requests[0].body["messages"]
    assert message["content"] == [{"text": "first"}, {"text": "[tool result calc]\n42"},
                                  {"text": "again"}]


def test_conversation_must_start_with_a_user_message(server: BedrockLoopback) -> None:
    with pytest.raises(ValidationError, match="user message"):
        BedrockLLM(server.client_config()).generate([ChatMessage(role="assistant", content="hi")])
    assert server.requests == []


def test_additional_model_request_fields_pass_through(server: BedrockLoopback) -> None:
    server.enqueue_text("ok")
    BedrockLLM(server.client_config(additional_model_request_fields={"top_k": 5})).generate(MESSAGES)
    assert server.requests[0].body["additionalModelRequestFields"] == {"top_k": 5}


def test_region_is_required(clean_env: pytest.MonkeyPatch) -> None:
    llm = BedrockLLM({"aws_access_key_id": "a", "aws_secret_access_key": "b"})
    with pytest.raises(ConfigurationError, match="AWS_REGION"):
        llm.generate(MESSAGES)


def test_half_a_credential_pair_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="both"):
        BedrockLLM({"aws_access_key_id": "a"})


def test_credentials_come_from_the_standard_chain(server: BedrockLoopback,
                                                  clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AWS_ACCESS_KEY_ID", server.access_key_id)
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", server.secret_access_key)
    clean_env.setenv("AWS_REGION", server.region)
    server.enqueue_text("ok")
    assert BedrockLLM({"endpoint_url": server.endpoint_url}).generate(MESSAGES).text == "ok"


def test_missing_credentials_are_an_authentication_error(server: BedrockLoopback) -> None:
    llm = BedrockLLM({"endpoint_url": server.endpoint_url, "region": server.region})
    with pytest.raises(AuthenticationError, match="credentials"):
        llm.generate(MESSAGES)
    assert server.requests == []


def test_unknown_access_key_is_an_authentication_error(server: BedrockLoopback) -> None:
    llm = BedrockLLM(server.client_config(aws_access_key_id="AKIAUNKNOWN000000000", max_retries=3))
    with pytest.raises(AuthenticationError, match="UnrecognizedClientException"):
        llm.generate(MESSAGES)
    assert len(server.requests) == 1


def test_auth_fault_is_not_retried(server: BedrockLoopback) -> None:
    server.enqueue_fault("auth")
    with pytest.raises(AuthenticationError, match="AccessDeniedException"):
        BedrockLLM(server.client_config(max_retries=3)).generate(MESSAGES)
    assert len(server.requests) == 1


def test_throttling_is_retried_by_botocore(server: BedrockLoopback) -> None:
    server.enqueue_fault("rate_limit", retry_after=0)
    server.enqueue_text("after the wait")
    assert BedrockLLM(server.client_config(max_retries=1)).generate(MESSAGES).text == "after the wait"
    assert [r.extra.get("fault") for r in server.requests] == ["rate_limit", None]


def test_throttling_carries_the_retry_delay(server: BedrockLoopback) -> None:
    server.enqueue_fault("rate_limit", retry_after=4)
    with pytest.raises(RateLimitError, match="ThrottlingException") as caught:
        BedrockLLM(server.client_config(max_retries=0)).generate(MESSAGES)
    assert caught.value.retry_after == 4.0


@pytest.mark.parametrize("mode", ["standard", "legacy"])
def test_server_errors_are_retried_up_to_max_retries(server: BedrockLoopback, mode: str) -> None:
    for _ in range(4):
        server.enqueue_fault("server_error")
    with pytest.raises(ProviderError, match="InternalServerException") as caught:
        BedrockLLM(server.client_config(max_retries=2, retry_mode=mode)).generate(MESSAGES)
    assert caught.value.retryable
    assert len(server.requests) == 3


def test_timeout_maps_to_provider_timeout(server: BedrockLoopback) -> None:
    server.enqueue_fault("timeout")
    with pytest.raises(ProviderTimeout):
        BedrockLLM(server.client_config(timeout=1, max_retries=0)).generate(MESSAGES)
    assert len(server.requests) == 1


def test_malformed_body_is_a_retryable_provider_error(server: BedrockLoopback) -> None:
    # botocore swallows a cut-off body; the provider sees nothing and calls it garbled
    server.enqueue_fault("malformed")
    with pytest.raises(ProviderError, match="could not be decoded") as caught:
        BedrockLLM(server.client_config(max_retries=0)).generate(MESSAGES)
    assert caught.value.retryable


def test_validation_errors_are_not_retried(server: BedrockLoopback) -> None:
    # no reply scripted: the loopback answers ValidationException, as Bedrock does for bad input
    with pytest.raises(ProviderError, match="ValidationException") as caught:
        BedrockLLM(server.client_config(max_retries=3)).generate(MESSAGES)
    assert not caught.value.retryable
    assert len(server.requests) == 1


async def test_async_generate_runs_the_sync_client_in_a_thread(server: BedrockLoopback) -> None:
    server.enqueue_structured({"facts": ["async"]})
    llm = BedrockLLM(server.client_config())
    response = await llm.agenerate(MESSAGES, json_schema=SCHEMA)
    assert response.structured == {"facts": ["async"]}
    server.enqueue_fault("auth")
    with pytest.raises(AuthenticationError):
        await llm.agenerate(MESSAGES)


def test_a_non_object_schema_is_wrapped_for_the_tool_and_unwrapped_after(server: BedrockLoopback) -> None:
    list_schema = {"type": "array", "items": {"type": "string"}}
    server.enqueue_structured({"value": ["a", "b"]})
    response = BedrockLLM(server.client_config()).generate(MESSAGES, json_schema=list_schema)
    assert server.json_schema_of(server.requests[0]) == {
        "type": "object", "properties": {"value": list_schema}, "required": ["value"]}
    assert response.structured is None  # only objects fit LLMResponse.structured
    assert response.text == '["a", "b"]'  # the core parses the text instead


def test_a_wrong_secret_key_fails_signature_verification(server: BedrockLoopback) -> None:
    llm = BedrockLLM(server.client_config(aws_secret_access_key="not-the-secret", max_retries=2))
    with pytest.raises(AuthenticationError, match="InvalidSignatureException"):
        llm.generate(MESSAGES)
    assert len(server.requests) == 1


def test_model_arns_and_session_tokens_are_signed_and_routed(server: BedrockLoopback) -> None:
    arn = ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
           "us.anthropic.claude-3-5-haiku-20241022-v1:0")
    server.enqueue_text("ok")
    llm = BedrockLLM(server.client_config(model=arn, aws_session_token="session-token"))
    assert llm.generate(MESSAGES).text == "ok"
    [request] = server.requests
    assert request.extra["model"] == arn
    assert request.headers["x-amz-security-token"] == "session-token"
    assert "x-amz-security-token" in request.extra["signature"]["signed"].split(";")


def test_a_timeout_is_retried_by_botocore(server: BedrockLoopback) -> None:
    server.enqueue_fault("timeout")
    server.enqueue_text("second try")
    llm = BedrockLLM(server.client_config(timeout=1, max_retries=1))
    assert llm.generate(MESSAGES).text == "second try"
    assert len(server.requests) == 2


def test_an_unreachable_endpoint_is_a_retryable_provider_error(clean_env: pytest.MonkeyPatch) -> None:
    with BedrockLoopback() as gone:
        config = gone.client_config(max_retries=0)
    with pytest.raises(ProviderError, match="could not reach") as caught:
        BedrockLLM(config).generate(MESSAGES)
    assert caught.value.retryable
