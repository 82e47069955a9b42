"""Zero-code mode for ``--memplane-provider llms:NAME``.

The provider's harness (entry point ``memplane.conformance`` -> ``llms.NAME``) supplies
the loopback endpoint, the connected factory and, when credentials are present, the
live config.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from memplane.providers.base import LLM
from memplane_conformance.endpoint import ScriptedEndpoint
from memplane_conformance.llm import LLMContract
from memplane_conformance.memory_contract import MemoryContract
from memplane_conformance.plugin import Target


@pytest.fixture
def scripted_endpoint(memplane_target: Target) -> Iterator[ScriptedEndpoint]:
    with memplane_target.harness.scripted_endpoint() as endpoint:
        yield endpoint


@pytest.fixture
def llm_factory(memplane_target: Target, scripted_endpoint: ScriptedEndpoint,
                tmp_path: Path) -> Callable[..., LLM]:
    return memplane_target.harness.llm_factory(scripted_endpoint, tmp_path)  # type: ignore[no-any-return]


@pytest.fixture
def live_llm_factory(memplane_target: Target) -> Callable[..., LLM] | None:
    live = memplane_target.harness.live_config()
    if live is None:
        return None
    cls = memplane_target.provider_class
    return lambda **overrides: cls({**live, **overrides})


class TestLLM(LLMContract):
    pass


class TestMemoryWithLLM(MemoryContract):
    pass
