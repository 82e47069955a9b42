"""Zero-code conformance harness: how ``pytest --pyargs memplane_conformance
--memplane-provider llms:gemini`` (or ``embedders:gemini``) makes test instances.

Registered under the ``memplane.conformance`` entry-point group; only the
conformance suite imports this module (it needs ``memplane-conformance``).
"""

from __future__ import annotations

import atexit
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from memplane_conformance.endpoint import ScriptedEndpoint
from memplane_conformance.harness import ProviderHarness, substitute
from memplane_gemini.testing import GeminiLoopback


class GeminiHarness(ProviderHarness):
    _shared: GeminiLoopback | None = None

    @contextlib.contextmanager
    def scripted_endpoint(self) -> Iterator[ScriptedEndpoint]:
        with GeminiLoopback(slow_seconds=3.0) as server:
            yield server

    def endpoint_config(self, endpoint: ScriptedEndpoint) -> dict[str, Any]:
        assert isinstance(endpoint, GeminiLoopback)
        return endpoint.llm_config(timeout=1.0)

    def provider_config(self, tmp_path: Path) -> dict[str, Any]:
        config: dict[str, Any] = substitute(self.file_config, tmp_path)
        if self.provider_class.kind == "llms":
            return config  # llm_factory adds endpoint_config
        # embedders: one loopback for the whole run, stopped at exit
        if GeminiHarness._shared is None:
            GeminiHarness._shared = GeminiLoopback().start()
            atexit.register(GeminiHarness._shared.stop)
        return {**GeminiHarness._shared.llm_config(), **config}

    def live_config(self) -> dict[str, Any] | None:
        if not (os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")):
            return None
        return {"model": os.environ.get("MEMPLANE_GEMINI_LIVE_MODEL", "gemini-2.5-flash")}
