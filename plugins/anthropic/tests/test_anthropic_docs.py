"""The configuration in docs/providers/anthropic.md is valid (docs must match the code)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from memplane.config import MemoryConfig
from memplane_anthropic.llm import AnthropicLLM

DOC = Path(__file__).resolve().parents[3] / "docs" / "providers" / "anthropic.md"


@pytest.mark.skipif(not DOC.exists(), reason="docs/ is not next to this checkout")
def test_documented_configuration_is_valid():
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert blocks
    for block in blocks:
        spec = MemoryConfig.from_dict(yaml.safe_load(block)).llm.spec()
        assert spec.provider == "anthropic"
        AnthropicLLM.validate_config(spec.config)
