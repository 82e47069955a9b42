"""Every configuration in docs/providers/openai.md is valid for MemoryConfig and for
the provider it names (docs must match the code)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from memplane.config import MemoryConfig
from memplane.plugins.registry import load_provider_class

DOC = Path(__file__).resolve().parents[3] / "docs" / "providers" / "openai.md"
KINDS = {"llm": "llms", "embedder": "embedders"}


def _blocks() -> list[str]:
    if not DOC.exists():
        return []
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.skipif(not DOC.exists(), reason="docs/ is not next to this checkout")
def test_the_page_has_all_five_setups():
    text = "\n".join(_blocks())
    for marker in ("provider: openai", "provider: azure_openai", "11434", "8000", "1234"):
        assert marker in text


@pytest.mark.parametrize("block", _blocks())
def test_documented_configuration_is_valid(block):
    config = MemoryConfig.from_dict(yaml.safe_load(block))
    for section, kind in KINDS.items():
        spec = getattr(config, section).spec()
        if spec.provider in ("openai", "azure_openai"):
            load_provider_class(kind, spec.provider).validate_config(spec.config)


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
