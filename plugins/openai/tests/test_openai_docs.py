"""Every configuration in docs/providers/openai.md is valid for MemoryConfig and for
the provider it names (docs must match the code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from memplane.config import MemoryConfig
from memplane.plugins.registry import load_provider_class
from memplane_conformance.docs import check_documented_configuration, yaml_blocks

DOC = Path(__file__).resolve().parents[3] / "docs" / "providers" / "openai.md"


@pytest.mark.skipif(not DOC.exists(), reason="docs/ is not next to this checkout")
def test_the_page_has_all_five_setups():
    text = "\n".join(yaml_blocks(DOC))
    for marker in ("provider: openai", "provider: azure_openai", "11434", "8000", "1234"):
        assert marker in text


@pytest.mark.parametrize("block", yaml_blocks(DOC))
def test_documented_configuration_is_valid(block):
    check_documented_configuration(block, {"openai", "azure_openai"}, construct=False)


def test_documented_environment_overrides_reach_the_provider_config():
    config = MemoryConfig.from_env({
        "MEMPLANE_LLM": "openai:gpt-4o-mini", "MEMPLANE_LLM__API_KEY": "sk-from-env",
        "MEMPLANE_EMBEDDER": "openai", "MEMPLANE_EMBEDDER__DIMENSIONS": "256",
    })
    llm = load_provider_class("llms", "openai").validate_config(config.llm.spec().config)
    embedder = load_provider_class("embedders", "openai").validate_config(
        config.embedder.spec().config)
    assert llm.api_key.get_secret_value() == "sk-from-env" and llm.model == "gpt-4o-mini"
    assert embedder.dimensions == 256
