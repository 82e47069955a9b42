"""The configuration in docs/providers/anthropic.md is valid (docs must match the code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from memplane_conformance.docs import check_documented_configuration, yaml_blocks

DOC = Path(__file__).resolve().parents[3] / "docs" / "providers" / "anthropic.md"


@pytest.mark.skipif(not DOC.exists(), reason="docs/ is not next to this checkout")
def test_documented_configuration_is_valid():
    blocks = yaml_blocks(DOC)
    assert blocks
    for block in blocks:  # every block configures the anthropic LLM
        assert check_documented_configuration(block, {"anthropic"}, construct=False) == 1
