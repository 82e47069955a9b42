"""Conformance harness: ``pytest --pyargs memplane_conformance --memplane-provider
vector_stores:weaviate`` runs against ``WEAVIATE_URL`` when set, else against one
loopback Weaviate started for the test process."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from memplane_conformance.harness import ProviderHarness, substitute
from memplane_weaviate.testing import WeaviateLoopback, live_config

_loopback: WeaviateLoopback | None = None


def _server() -> WeaviateLoopback:
    global _loopback
    if _loopback is None:  # daemon threads: it stops with the test process
        _loopback = WeaviateLoopback().start()
    return _loopback


class WeaviateHarness(ProviderHarness):
    def provider_config(self, tmp_path: Path) -> dict[str, Any]:
        collection = f"Conformance{uuid.uuid4().hex[:12]}"
        config = live_config(collection=collection) or _server().store_config(
            collection=collection)
        config.update(substitute(self.file_config, tmp_path))
        return config

    def cleanup(self, provider: Any) -> None:
        provider.close()
        cleaner = type(provider)(provider.config)
        try:
            cleaner.drop()
        finally:
            cleaner.close()
