"""Checks that keep a provider's documentation true: every YAML configuration on a
Markdown page must load as a :class:`memplane.config.MemoryConfig`, and each provider
block naming your provider must be accepted by it.

    from memplane_conformance.docs import check_documented_configuration, yaml_blocks

    @pytest.mark.parametrize("block", yaml_blocks(DOC))
    def test_documented_configuration_is_valid(block):
        assert check_documented_configuration(block, {"myprovider"}) >= 1
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

import yaml

from memplane.config import MemoryConfig
from memplane.plugins.registry import load_provider_class

#: MemoryConfig section -> provider kind (entry-point group suffix)
SECTION_KINDS = {"llm": "llms", "embedder": "embedders", "vector_store": "vector_stores",
                 "reranker": "rerankers"}
_YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", flags=re.S)


def yaml_blocks(markdown: Path) -> list[str]:
    """The fenced ``yaml`` blocks of a Markdown page (none if the page is absent, as in
    an installed package without the docs folder next to it)."""
    if not markdown.exists():
        return []
    return _YAML_BLOCK.findall(markdown.read_text(encoding="utf-8"))


def check_documented_configuration(
    block: str, providers: Collection[str], *, construct: bool = True
) -> int:
    """Load ``block`` as a MemoryConfig and, for each section naming one of
    ``providers``, construct that provider from its config (or only validate the
    config with ``construct=False``). Returns how many sections were checked.

    Constructing must not reach the network: providers connect lazily."""
    config = MemoryConfig.from_dict(yaml.safe_load(block))
    checked = 0
    for section, kind in SECTION_KINDS.items():
        block_config = getattr(config, section)
        if block_config is None:
            continue
        spec = block_config.spec()
        if spec.provider not in providers:
            continue
        cls = load_provider_class(kind, spec.provider)
        if construct:
            cls(spec.config)
        else:
            cls.validate_config(spec.config)
        checked += 1
    return checked
