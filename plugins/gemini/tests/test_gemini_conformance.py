"""The shared memplane contract suite, offline through the loopback server and live
when GEMINI_API_KEY / GOOGLE_API_KEY is set."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from memplane_conformance import EmbedderContract, LLMContract
from memplane_gemini.embedder import GeminiEmbedder
from memplane_gemini.llm import GeminiLLM
from memplane_gemini.testing import GeminiLoopback

LIVE_KEY = os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")
LIVE_MODEL = os.environ.get("MEMPLANE_GEMINI_LIVE_MODEL", "gemini-2.5-flash")


@pytest.fixture
def scripted_endpoint(clean_env: pytest.MonkeyPatch) -> Iterator[GeminiLoopback]:
    """A fresh server per test for both LLM contract classes (API key and Vertex AI)."""
    with GeminiLoopback(slow_seconds=3.0) as server:
        yield server


class TestGeminiLLMContract(LLMContract):
    @pytest.fixture
    def llm_factory(self, scripted_endpoint: GeminiLoopback) -> Callable[..., GeminiLLM]:
        return lambda **overrides: GeminiLLM(scripted_endpoint.llm_config(timeout=1.0, **overrides))

    @pytest.fixture
    def live_llm_factory(self) -> Callable[..., GeminiLLM] | None:
        if not LIVE_KEY:
            return None
        return lambda **overrides: GeminiLLM({"model": LIVE_MODEL, **overrides})


class TestGeminiVertexLLMContract(LLMContract):
    """The same contract in Vertex AI mode (project/location paths, bearer token)."""

    @pytest.fixture
    def llm_factory(self, scripted_endpoint: GeminiLoopback) -> Callable[..., GeminiLLM]:
        return lambda **overrides: GeminiLLM(scripted_endpoint.vertex_config(timeout=1.0, **overrides))


class TestGeminiEmbedderContract(EmbedderContract):
    @pytest.fixture
    def embedder(self, server: GeminiLoopback) -> Iterator[GeminiEmbedder]:
        embedder = GeminiEmbedder(server.llm_config(output_dimensionality=256))
        yield embedder
        embedder.close()


@pytest.mark.live
@pytest.mark.skipif(not LIVE_KEY, reason="set GEMINI_API_KEY or GOOGLE_API_KEY for live tests")
class TestGeminiEmbedderContractLive(EmbedderContract):
    @pytest.fixture
    def embedder(self) -> GeminiEmbedder:
        return GeminiEmbedder({"output_dimensionality": 768})
