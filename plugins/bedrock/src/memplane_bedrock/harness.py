"""Zero-code conformance harness: how ``pytest --pyargs memplane_conformance
--memplane-provider {llms,embedders,rerankers}:bedrock`` makes test instances.

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

from memplane_bedrock.testing import BedrockLoopback
from memplane_conformance.endpoint import ScriptedEndpoint
from memplane_conformance.harness import ProviderHarness, substitute


class BedrockHarness(ProviderHarness):
    _shared: BedrockLoopback | None = None

    @contextlib.contextmanager
    def scripted_endpoint(self) -> Iterator[ScriptedEndpoint]:
        with BedrockLoopback(slow_seconds=3.0) as server:
            yield server

    def endpoint_config(self, endpoint: ScriptedEndpoint) -> dict[str, Any]:
        assert isinstance(endpoint, BedrockLoopback)
        return endpoint.client_config(timeout=1.0)

    def provider_config(self, tmp_path: Path) -> dict[str, Any]:
        config: dict[str, Any] = substitute(self.file_config, tmp_path)
        if self.provider_class.kind == "llms":
            return config  # llm_factory adds endpoint_config
        # embedders and rerankers: one loopback for the whole run, stopped at exit
        if BedrockHarness._shared is None:
            BedrockHarness._shared = BedrockLoopback().start()
            atexit.register(BedrockHarness._shared.stop)
        return {**BedrockHarness._shared.client_config(), **config}

    def live_config(self) -> dict[str, Any] | None:
        has_credentials = (os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY")) \
            or os.environ.get("AWS_PROFILE")
        if not (has_credentials and (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))):
            return None
        return {"model": os.environ.get("MEMPLANE_BEDROCK_LIVE_MODEL", "amazon.nova-lite-v1:0")}
