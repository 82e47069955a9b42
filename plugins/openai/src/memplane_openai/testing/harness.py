"""Conformance harnesses: how ``memplane-conformance`` makes test instances of the
OpenAI providers in zero-code mode (``pytest --pyargs memplane_conformance
--memplane-provider llms:openai``). Registered under the ``memplane.conformance``
entry-point group.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from memplane_conformance.endpoint import ScriptedEndpoint
from memplane_conformance.harness import ProviderHarness
from memplane_openai.testing.server import OpenAILoopback

#: client timeout against the loopback server; its "timeout" fault answers later
CLIENT_TIMEOUT = 1.0
SLOW_SECONDS = 4.0


def loopback_config(server: OpenAILoopback, *, azure: bool) -> dict[str, Any]:
    common = {"api_key": server.api_key, "timeout": CLIENT_TIMEOUT, "max_retries": 2}
    if azure:
        return {**common, "azure_endpoint": server.azure_endpoint, "deployment": "loopback"}
    return {**common, "base_url": server.base_url}


class _Harness(ProviderHarness):
    azure = False

    @contextlib.contextmanager
    def scripted_endpoint(self) -> Iterator[ScriptedEndpoint]:
        with OpenAILoopback(slow_seconds=SLOW_SECONDS) as server:
            yield server

    def endpoint_config(self, endpoint: ScriptedEndpoint) -> dict[str, Any]:
        assert isinstance(endpoint, OpenAILoopback)
        return loopback_config(endpoint, azure=self.azure)

    def create(self, tmp_path: Path, **overrides: Any) -> Any:
        # embedders have no scripted endpoint: one server per harness serves them all
        if self.provider_class.kind == "embedders" and not self.file_config:
            server = getattr(self, "_server", None)
            if server is None:
                server = self._server = OpenAILoopback().start()
            overrides = {**loopback_config(server, azure=self.azure), "dimensions": 64, **overrides}
        return super().create(tmp_path, **overrides)


class OpenAIHarness(_Harness):
    def live_config(self) -> dict[str, Any] | None:
        if not os.environ.get("OPENAI_API_KEY"):
            return None
        return {"model": os.environ.get("MEMPLANE_OPENAI_MODEL", "gpt-4o-mini")}


class AzureOpenAIHarness(_Harness):
    azure = True

    def live_config(self) -> dict[str, Any] | None:
        needed = ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "MEMPLANE_AZURE_DEPLOYMENT")
        if not all(os.environ.get(name) for name in needed):
            return None
        return {
            "azure_endpoint": os.environ["AZURE_OPENAI_ENDPOINT"],
            "deployment": os.environ["MEMPLANE_AZURE_DEPLOYMENT"],
        }
