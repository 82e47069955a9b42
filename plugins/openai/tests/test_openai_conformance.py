"""memplane-conformance through the loopback server (offline), and live when
OPENAI_API_KEY is set."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

from memplane_conformance import EmbedderContract, LLMContract, MemoryContract
from memplane_openai.embedder import OpenAIEmbedder
from memplane_openai.llm import AzureOpenAILLM, OpenAILLM
from memplane_openai.testing import OpenAILoopback
from memplane_openai.testing.harness import CLIENT_TIMEOUT, SLOW_SECONDS


class _LoopbackLLM(LLMContract):
    extra: ClassVar[dict[str, Any]] = {}

    @pytest.fixture
    def scripted_endpoint(self) -> Iterator[OpenAILoopback]:
        with OpenAILoopback(slow_seconds=SLOW_SECONDS) as server:
            yield server
            assert server.problems == [], "the SDK sent requests the real API would refuse"

    @pytest.fixture
    def llm_factory(self, scripted_endpoint: OpenAILoopback) -> Callable[..., OpenAILLM]:
        def make(**overrides: Any) -> OpenAILLM:
            return OpenAILLM({"base_url": scripted_endpoint.base_url,
                              "api_key": scripted_endpoint.api_key,
                              "timeout": CLIENT_TIMEOUT, **self.extra, **overrides})

        return make

    @pytest.fixture
    def live_llm_factory(self) -> Callable[..., OpenAILLM] | None:
        if not os.environ.get("OPENAI_API_KEY"):
            return None
        model = os.environ.get("MEMPLANE_OPENAI_MODEL", "gpt-4o-mini")
        return lambda **overrides: OpenAILLM({"model": model, **self.extra, **overrides})


class TestOpenAIStructuredOutputs(_LoopbackLLM):
    """The default: strict structured outputs (capability json_schema)."""


class TestOpenAIJSONModeFallback(_LoopbackLLM):
    """OpenAI-compatible servers without structured outputs (capability json_mode)."""

    extra: ClassVar[dict[str, Any]] = {"structured_output": "json_object"}


class TestAzureOpenAI(LLMContract):
    @pytest.fixture
    def scripted_endpoint(self) -> Iterator[OpenAILoopback]:
        with OpenAILoopback(slow_seconds=SLOW_SECONDS, azure_api_version="2024-10-21") as server:
            yield server
            assert server.problems == []

    @pytest.fixture
    def llm_factory(self, scripted_endpoint: OpenAILoopback) -> Callable[..., AzureOpenAILLM]:
        def make(**overrides: Any) -> AzureOpenAILLM:
            return AzureOpenAILLM({"azure_endpoint": scripted_endpoint.azure_endpoint,
                                   "deployment": "memplane", "api_key": scripted_endpoint.api_key,
                                   "timeout": CLIENT_TIMEOUT, **overrides})

        return make


class TestOpenAIEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self) -> Iterator[OpenAIEmbedder]:
        with OpenAILoopback() as server:
            instance = OpenAIEmbedder({"base_url": server.base_url, "api_key": server.api_key,
                                       "dimensions": 64, "max_retries": 0})
            yield instance
            instance.close()


@pytest.mark.live
class TestOpenAIEmbedderLive(EmbedderContract):
    @pytest.fixture
    def embedder(self) -> Iterator[OpenAIEmbedder]:
        if not os.environ.get("OPENAI_API_KEY"):
            pytest.skip("live: OPENAI_API_KEY is not set")
        instance = OpenAIEmbedder({"model": "text-embedding-3-small", "dimensions": 256})
        yield instance
        instance.close()


class TestMemoryScenariosWithOpenAILLM(MemoryContract):
    """ADD/UPDATE/DELETE/NONE through Memory with the OpenAI LLM on the loopback."""

    @pytest.fixture
    def scripted_endpoint(self) -> Iterator[OpenAILoopback]:
        with OpenAILoopback(slow_seconds=SLOW_SECONDS) as server:
            yield server
            assert server.problems == []

    @pytest.fixture
    def llm_factory(self, scripted_endpoint: OpenAILoopback) -> Callable[..., OpenAILLM]:
        return lambda **overrides: OpenAILLM({"base_url": scripted_endpoint.base_url,
                                              "api_key": scripted_endpoint.api_key,
                                              "timeout": CLIENT_TIMEOUT, **overrides})


class TestMemoryScenariosWithOpenAIEmbedder(MemoryContract):
    @pytest.fixture
    def embedder(self) -> Iterator[OpenAIEmbedder]:
        with OpenAILoopback() as server:
            instance = OpenAIEmbedder({"base_url": server.base_url, "api_key": server.api_key,
                                       "dimensions": 64, "max_retries": 0})
            yield instance
            instance.close()
