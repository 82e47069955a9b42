"""Zero-code mode for ``--memplane-provider rerankers:NAME``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memplane.providers.base import Reranker
from memplane_conformance.plugin import Target
from memplane_conformance.reranker import RerankerContract


@pytest.fixture
def reranker(memplane_target: Target, tmp_path: Path) -> Iterator[Reranker]:
    instance = memplane_target.harness.create(tmp_path)
    yield instance
    memplane_target.harness.cleanup(instance)
    instance.close()


class TestReranker(RerankerContract):
    pass
