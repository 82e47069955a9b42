"""Conformance harness: lets ``pytest --pyargs memplane_conformance
--memplane-provider vector_stores:milvus`` run with no code (Milvus Lite file per test)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from memplane_conformance.harness import ProviderHarness, substitute


class MilvusHarness(ProviderHarness):
    def provider_config(self, tmp_path: Path) -> dict[str, Any]:
        config: dict[str, Any] = {"uri": str(tmp_path / "milvus.db")}
        config.update(substitute(self.file_config, tmp_path))
        return config
