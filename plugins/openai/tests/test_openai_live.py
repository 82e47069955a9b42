"""Against the real API; runs only when OPENAI_API_KEY is set."""

from __future__ import annotations

import os

import pytest

from memplane.errors import AuthenticationError
from memplane.models import ChatMessage, DecisionList
from memplane_openai.embedder import OpenAIEmbedder
from memplane_openai.llm import OpenAILLM

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not os.environ.get("OPENAI_API_KEY"), reason="live: OPENAI_API_KEY is not set"),
]
MODEL = os.environ.get("MEMPLANE_OPENAI_MODEL", "gpt-4o-mini")


def test_live_strict_structured_output_follows_the_decision_schema():
    llm = OpenAILLM({"model": MODEL})
    response = llm.generate(
        [ChatMessage(role="system", content="Extract memories as decisions."),
         ChatMessage(role="user", content="I moved to Lisbon last year.")],
        json_schema=DecisionList.model_json_schema(), schema_name="decisions",
    )
    assert response.structured is not None
    DecisionList.model_validate(response.structured)
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0


async def test_live_async_and_embeddings():
    llm = OpenAILLM({"model": MODEL})
    response = await llm.agenerate([ChatMessage(role="user", content="Say OK.")], max_tokens=16)
    assert response.text
    embedder = OpenAIEmbedder({"model": "text-embedding-3-small", "dimensions": 64})
    vectors = await embedder.aembed(["tea", "coffee"])
    assert [len(v) for v in vectors] == [64, 64]


def test_live_bad_key_is_an_authentication_error():
    with pytest.raises(AuthenticationError):
        OpenAILLM({"model": MODEL, "api_key": "sk-invalid", "max_retries": 0}).generate(
            [ChatMessage(role="user", content="hi")]
        )
