from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from memplane_openai.embedder import AzureOpenAIEmbedder, OpenAIEmbedder
from memplane_openai.llm import AzureOpenAILLM, OpenAILLM
from memplane_openai.testing import OpenAILoopback


@pytest.fixture
def server() -> Iterator[OpenAILoopback]:
    with OpenAILoopback(slow_seconds=4.0) as srv:
        yield srv
        # every request the SDK sent must have been valid for the real API
        assert srv.problems == []


@pytest.fixture
def make_llm(server: OpenAILoopback) -> Iterator[Callable[..., OpenAILLM]]:
    made: list[OpenAILLM] = []

    def make(**overrides: Any) -> OpenAILLM:
        config = {"base_url": server.base_url, "api_key": server.api_key, "timeout": 1.0,
                  "max_retries": 0, **overrides}
        llm = OpenAILLM(config)
        made.append(llm)
        return llm

    yield make
    for llm in made:
        llm.close()


@pytest.fixture
def make_azure_llm(server: OpenAILoopback) -> Callable[..., AzureOpenAILLM]:
    def make(**overrides: Any) -> AzureOpenAILLM:
        config = {"azure_endpoint": server.azure_endpoint, "deployment": "mem-gpt",
                  "api_key": server.api_key, "timeout": 1.0, "max_retries": 0, **overrides}
        return AzureOpenAILLM(config)

    return make


@pytest.fixture
def make_embedder(server: OpenAILoopback) -> Callable[..., OpenAIEmbedder]:
    def make(**overrides: Any) -> OpenAIEmbedder:
        config = {"base_url": server.base_url, "api_key": server.api_key, "timeout": 2.0,
                  "max_retries": 0, **overrides}
        return OpenAIEmbedder(config)

    return make


@pytest.fixture
def make_azure_embedder(server: OpenAILoopback) -> Callable[..., AzureOpenAIEmbedder]:
    def make(**overrides: Any) -> AzureOpenAIEmbedder:
        config = {"azure_endpoint": server.azure_endpoint, "deployment": "mem-embed",
                  "model": "text-embedding-3-small", "api_key": server.api_key,
                  "max_retries": 0, **overrides}
        return AzureOpenAIEmbedder(config)

    return make
