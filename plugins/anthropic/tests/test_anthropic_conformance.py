"""memplane-conformance through the loopback server (offline), and live when
ANTHROPIC_API_KEY is set."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from memplane_anthropic.llm import AnthropicLLM
from memplane_anthropic.testing import AnthropicLoopback
from memplane_anthropic.testing.harness import CLIENT_TIMEOUT, SLOW_SECONDS
from memplane_conformance import LLMContract, MemoryContract


class TestAnthropicContract(LLMContract):
    @pytest.fixture
    def scripted_endpoint(self) -> Iterator[AnthropicLoopback]:
        with AnthropicLoopback(slow_seconds=SLOW_SECONDS) as server:
            yield server
            assert server.problems == [], "the SDK sent requests the real API would refuse"

    @pytest.fixture
    def llm_factory(self, scripted_endpoint: AnthropicLoopback) -> Callable[..., AnthropicLLM]:
        def make(**overrides: Any) -> AnthropicLLM:
            return AnthropicLLM({"base_url": scripted_endpoint.base_url,
                                 "api_key": scripted_endpoint.api_key,
                                 "timeout": CLIENT_TIMEOUT, **overrides})

        return make

    @pytest.fixture
    def live_llm_factory(self) -> Callable[..., AnthropicLLM] | None:
        if not os.environ.get("ANTHROPIC_API_KEY"):
            return None
        model = os.environ.get("MEMPLANE_ANTHROPIC_MODEL", "claude-haiku-4-5")
        return lambda **overrides: AnthropicLLM({"model": model, **overrides})


class TestMemoryScenariosWithAnthropic(MemoryContract):
    """ADD/UPDATE/DELETE/NONE through Memory with the Anthropic LLM on the loopback."""

    @pytest.fixture
    def scripted_endpoint(self) -> Iterator[AnthropicLoopback]:
        with AnthropicLoopback(slow_seconds=SLOW_SECONDS) as server:
            yield server
            assert server.problems == []

    @pytest.fixture
    def llm_factory(self, scripted_endpoint: AnthropicLoopback) -> Callable[..., AnthropicLLM]:
        return lambda **overrides: AnthropicLLM({"base_url": scripted_endpoint.base_url,
                                                 "api_key": scripted_endpoint.api_key,
                                                 "timeout": CLIENT_TIMEOUT, **overrides})
