"""Conformance harness: zero-code mode gives every test instance its own file.

Registered under the ``memplane.conformance`` entry-point group as
``vector_stores.example_dict``; imported only by the conformance suite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from memplane_conformance.harness import ProviderHarness


class ExampleDictHarness(ProviderHarness):
    def provider_config(self, tmp_path: Path) -> dict[str, Any]:
        return {"path": str(tmp_path / "store.json"), **super().provider_config(tmp_path)}
