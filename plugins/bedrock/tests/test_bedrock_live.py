"""The real Bedrock service; runs only when AWS credentials and a region are set.

Models default to ones most accounts can enable; override with
MEMPLANE_BEDROCK_LIVE_MODEL, MEMPLANE_BEDROCK_LIVE_EMBED_MODEL and
MEMPLANE_BEDROCK_LIVE_RERANK_MODEL.
"""

from __future__ import annotations

import os

import pytest

from memplane.models import ChatMessage
from memplane_bedrock.embedder import BedrockEmbedder
from memplane_bedrock.llm import BedrockLLM
from memplane_bedrock.reranker import BedrockReranker

_HAS_CREDENTIALS = bool(
    (os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"))
    or os.environ.get("AWS_PROFILE")
)
_HAS_REGION = bool(os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (_HAS_CREDENTIALS and _HAS_REGION),
        reason="set AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE) "
               "and AWS_REGION to run the live Bedrock tests",
    ),
]


def test_live_converse_structured_output() -> None:
    llm = BedrockLLM({"model": os.environ.get("MEMPLANE_BEDROCK_LIVE_MODEL", "amazon.nova-lite-v1:0")})
    response = llm.generate(
        [ChatMessage(role="system", content="Extract the user's facts."),
         ChatMessage(role="user", content="I live in Lisbon and I drink green tea.")],
        json_schema={"type": "object", "properties": {"facts": {"type": "array",
                     "items": {"type": "string"}}}, "required": ["facts"]},
        schema_name="facts",
    )
    assert isinstance(response.structured, dict) and response.structured["facts"]
    assert response.usage.prompt_tokens > 0


def test_live_embeddings_rank_the_related_document_first() -> None:
    model = os.environ.get("MEMPLANE_BEDROCK_LIVE_EMBED_MODEL", "amazon.titan-embed-text-v2:0")
    embedder = BedrockEmbedder({"model": model})
    docs = embedder.embed(["Alice lives in Lisbon.", "The stock market fell today."])
    [query] = embedder.embed(["Where does Alice live?"], purpose="query")
    scores = [sum(q * d for q, d in zip(query, doc, strict=True)) for doc in docs]
    assert scores[0] > scores[1]


def test_live_rerank() -> None:
    reranker = BedrockReranker({"model": os.environ.get(
        "MEMPLANE_BEDROCK_LIVE_RERANK_MODEL", "amazon.rerank-v1:0")})
    results = reranker.rerank("Where does Alice live?",
                              ["The stock market fell today.", "Alice lives in Lisbon."])
    assert results[0].index == 1 and 0.0 <= results[-1].score <= results[0].score <= 1.0
