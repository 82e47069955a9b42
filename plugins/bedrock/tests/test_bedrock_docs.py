"""Every YAML configuration in docs/providers/bedrock.md is a valid MemoryConfig whose
bedrock blocks this plugin accepts (constructing a provider makes no request)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from memplane.config import MemoryConfig
from memplane.plugins.registry import load_provider_class

DOC = Path(__file__).resolve().parents[3] / "docs" / "providers" / "bedrock.md"
KINDS = {"llm": "llms", "embedder": "embedders", "vector_store": "vector_stores", "reranker": "rerankers"}


def _yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_page_has_configurations() -> None:
    assert len(_yaml_blocks()) >= 2


@pytest.mark.parametrize("block", _yaml_blocks())
def test_yaml_configuration_is_valid(block: str) -> None:
    config = MemoryConfig.from_dict(yaml.safe_load(block))
    checked = 0
    for field, kind in KINDS.items():
        spec = getattr(config, field)
        if spec is not None and spec.provider == "bedrock":
            load_provider_class(kind, "bedrock")(spec.config)
            checked += 1
    assert checked >= 1
