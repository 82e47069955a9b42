from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from memplane_anthropic.llm import AnthropicLLM
from memplane_anthropic.testing import AnthropicLoopback


@pytest.fixture
def server() -> Iterator[AnthropicLoopback]:
    with AnthropicLoopback(slow_seconds=4.0) as srv:
        yield srv
        # every request the SDK sent must have been valid for the real API
        assert srv.problems == []


@pytest.fixture
def make_llm(server: AnthropicLoopback) -> Iterator[Callable[..., AnthropicLLM]]:
    made: list[AnthropicLLM] = []

    def make(**overrides: Any) -> AnthropicLLM:
        config = {"base_url": server.base_url, "api_key": server.api_key, "timeout": 1.0,
                  "max_retries": 0, **overrides}
        llm = AnthropicLLM(config)
        made.append(llm)
        return llm

    yield make
    for llm in made:
        llm.close()
