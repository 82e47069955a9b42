"""The real Gemini API; runs only when GEMINI_API_KEY or GOOGLE_API_KEY is set."""

from __future__ import annotations

import os

import pytest

from memplane.models import ChatMessage
from memplane_gemini.embedder import GeminiEmbedder
from memplane_gemini.llm import GeminiLLM

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")),
        reason="set GEMINI_API_KEY or GOOGLE_API_KEY to run the live Gemini tests",
    ),
]
MODEL = os.environ.get("MEMPLANE_GEMINI_LIVE_MODEL", "gemini-2.5-flash")


def test_live_structured_output() -> None:
    llm = GeminiLLM({"model": MODEL, "max_retries": 2})
    response = llm.generate(
        [ChatMessage(role="system", content="Extract the user's facts."),
         ChatMessage(role="user", content="I live in Lisbon and I drink green tea.")],
        json_schema={"type": "object", "properties": {"facts": {"type": "array",
                     "items": {"type": "string"}}}, "required": ["facts"]},
    )
    assert isinstance(response.structured, dict) and response.structured["facts"]
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0


def test_live_embeddings_rank_the_related_document_first() -> None:
    embedder = GeminiEmbedder({"output_dimensionality": 768})
    docs = embedder.embed(["Alice lives in Lisbon.", "The stock market fell today."])
    [query] = embedder.embed(["Where does Alice live?"], purpose="query")
    scores = [sum(q * d for q, d in zip(query, doc, strict=True)) for doc in docs]
    assert scores[0] > scores[1]
