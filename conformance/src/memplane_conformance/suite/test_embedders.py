"""Zero-code mode for ``--memplane-provider embedders:NAME``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memplane.providers.base import Embedder
from memplane_conformance.embedder import EmbedderContract
from memplane_conformance.memory_contract import MemoryContract
from memplane_conformance.plugin import Target


@pytest.fixture
def embedder(memplane_target: Target, tmp_path: Path) -> Iterator[Embedder]:
    instance = memplane_target.harness.create(tmp_path)
    yield instance
    memplane_target.harness.cleanup(instance)
    instance.close()


class TestEmbedder(EmbedderContract):
    pass




class TestMemoryWithEmbedder(MemoryContract):
    pass
