"""Every YAML configuration in docs/providers/gemini.md is a valid MemoryConfig whose
gemini blocks this plugin accepts (constructing a provider makes no request)."""

from __future__ import annotations

from pathlib import Path

import pytest

from memplane_conformance.docs import check_documented_configuration, yaml_blocks

DOC = Path(__file__).resolve().parents[3] / "docs" / "providers" / "gemini.md"


def test_the_page_has_configurations() -> None:
    assert len(yaml_blocks(DOC)) >= 2


@pytest.mark.parametrize("block", yaml_blocks(DOC))
def test_yaml_configuration_is_valid(block: str) -> None:
    assert check_documented_configuration(block, {"gemini"}) >= 1
