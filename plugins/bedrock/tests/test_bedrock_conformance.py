"""The shared memplane contract suite, offline through the loopback server and live
when AWS credentials and a region are set."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from memplane_bedrock.embedder import BedrockEmbedder
from memplane_bedrock.llm import BedrockLLM
from memplane_bedrock.reranker import BedrockReranker
from memplane_bedrock.testing import BedrockLoopback
from memplane_conformance import EmbedderContract, LLMContract, RerankerContract

LIVE = bool(
    ((os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"))
     or os.environ.get("AWS_PROFILE"))
    and (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
)
LIVE_REASON = "set AWS credentials and AWS_REGION for the live Bedrock contract"


class TestBedrockLLMContract(LLMContract):
    @pytest.fixture
    def scripted_endpoint(self, clean_env: pytest.MonkeyPatch) -> Iterator[BedrockLoopback]:
        with BedrockLoopback(slow_seconds=3.0) as server:
            yield server

    @pytest.fixture
    def llm_factory(self, scripted_endpoint: BedrockLoopback) -> Callable[..., BedrockLLM]:
        return lambda **overrides: BedrockLLM(scripted_endpoint.client_config(
            model="us.anthropic.claude-3-5-haiku-20241022-v1:0", timeout=1.0, **overrides))

    @pytest.fixture
    def live_llm_factory(self) -> Callable[..., BedrockLLM] | None:
        if not LIVE:
            return None
        model = os.environ.get("MEMPLANE_BEDROCK_LIVE_MODEL", "amazon.nova-lite-v1:0")
        return lambda **overrides: BedrockLLM({"model": model, **overrides})


@pytest.fixture(params=["amazon.titan-embed-text-v2:0", "cohere.embed-english-v3"])
def embed_model(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class TestBedrockEmbedderContract(EmbedderContract):
    @pytest.fixture
    def embedder(self, server: BedrockLoopback, embed_model: str) -> Iterator[BedrockEmbedder]:
        embedder = BedrockEmbedder(server.client_config(model=embed_model))
        yield embedder
        embedder.close()


@pytest.fixture(params=["amazon.rerank-v1:0", "cohere.rerank-v3-5:0"])
def rerank_model(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class TestBedrockRerankerContract(RerankerContract):
    @pytest.fixture
    def reranker(self, server: BedrockLoopback, rerank_model: str) -> Iterator[BedrockReranker]:
        reranker = BedrockReranker(server.client_config(model=rerank_model))
        yield reranker
        reranker.close()


@pytest.mark.live
@pytest.mark.skipif(not LIVE, reason=LIVE_REASON)
class TestBedrockEmbedderContractLive(EmbedderContract):
    @pytest.fixture
    def embedder(self) -> BedrockEmbedder:
        return BedrockEmbedder({"model": os.environ.get(
            "MEMPLANE_BEDROCK_LIVE_EMBED_MODEL", "amazon.titan-embed-text-v2:0")})


@pytest.mark.live
@pytest.mark.skipif(not LIVE, reason=LIVE_REASON)
class TestBedrockRerankerContractLive(RerankerContract):
    @pytest.fixture
    def reranker(self) -> BedrockReranker:
        return BedrockReranker({"model": os.environ.get(
            "MEMPLANE_BEDROCK_LIVE_RERANK_MODEL", "amazon.rerank-v1:0")})
