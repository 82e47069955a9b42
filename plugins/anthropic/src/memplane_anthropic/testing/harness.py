"""Conformance harness: how ``memplane-conformance`` makes test instances of the
Anthropic provider in zero-code mode (``pytest --pyargs memplane_conformance
--memplane-provider llms:anthropic``). Registered under ``memplane.conformance``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from memplane_anthropic.testing.server import AnthropicLoopback
from memplane_conformance.endpoint import ScriptedEndpoint
from memplane_conformance.harness import ProviderHarness

#: client timeout against the loopback server; its "timeout" fault answers later
CLIENT_TIMEOUT = 1.0
SLOW_SECONDS = 4.0


class AnthropicHarness(ProviderHarness):
    @contextlib.contextmanager
    def scripted_endpoint(self) -> Iterator[ScriptedEndpoint]:
        with AnthropicLoopback(slow_seconds=SLOW_SECONDS) as server:
            yield server

    def endpoint_config(self, endpoint: ScriptedEndpoint) -> dict[str, Any]:
        assert isinstance(endpoint, AnthropicLoopback)
        return {"base_url": endpoint.base_url, "api_key": endpoint.api_key,
                "timeout": CLIENT_TIMEOUT, "max_retries": 2}

    def live_config(self) -> dict[str, Any] | None:
        if not os.environ.get("ANTHROPIC_API_KEY"):
            return None
        return {"model": os.environ.get("MEMPLANE_ANTHROPIC_MODEL", "claude-haiku-4-5")}
