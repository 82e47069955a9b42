"""Against the real API; runs only when ANTHROPIC_API_KEY is set."""

from __future__ import annotations

import os

import pytest

from memplane.errors import AuthenticationError
from memplane.models import ChatMessage, DecisionList
from memplane_anthropic.llm import AnthropicLLM

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not os.environ.get("ANTHROPIC_API_KEY"),
                       reason="live: ANTHROPIC_API_KEY is not set"),
]
MODEL = os.environ.get("MEMPLANE_ANTHROPIC_MODEL", "claude-haiku-4-5")


def test_live_forced_tool_call_follows_the_decision_schema():
    response = AnthropicLLM({"model": MODEL}).generate(
        [ChatMessage(role="system", content="Extract memories as decisions."),
         ChatMessage(role="user", content="I moved to Lisbon last year.")],
        json_schema=DecisionList.model_json_schema(), schema_name="decisions",
    )
    assert response.structured is not None
    DecisionList.model_validate(response.structured)
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0


async def test_live_async_text():
    response = await AnthropicLLM({"model": MODEL}).agenerate(
        [ChatMessage(role="user", content="Say OK.")], max_tokens=16)
    assert response.text


def test_live_bad_key_is_an_authentication_error():
    with pytest.raises(AuthenticationError):
        AnthropicLLM({"model": MODEL, "api_key": "sk-ant-invalid", "max_retries": 0}).generate(
            [ChatMessage(role="user", content="hi")]
        )
