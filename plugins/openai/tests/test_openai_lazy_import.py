"""Loading the entry-point targets must not import the SDK (start-up stays fast)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

TARGETS = sorted(
    ep.value
    for group in ("memplane.llms", "memplane.embedders")
    for ep in entry_points(group=group)
    if ep.value.startswith("memplane_openai.")
)


def test_all_entry_points_are_registered():
    assert sorted([
        "memplane_openai.embedder:AzureOpenAIEmbedder", "memplane_openai.embedder:OpenAIEmbedder",
        "memplane_openai.llm:AzureOpenAILLM", "memplane_openai.llm:OpenAILLM",
    ]) == TARGETS


@pytest.mark.parametrize("target", TARGETS)
def test_loading_the_target_leaves_the_sdk_unimported(target):
    module, _, attr = target.partition(":")
    code = (
        "import importlib, sys\n"
        f"cls = getattr(importlib.import_module({module!r}), {attr!r})\n"
        "cls({'api_key': 'k', 'azure_endpoint': 'https://x', 'deployment': 'd'}"
        " if 'Azure' in cls.__name__ else {'api_key': 'k'})\n"
        "print(sorted(m for m in sys.modules if m == 'openai' or m.startswith('openai.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_check_can_fail():
    code = "import memplane_openai.llm, openai, sys; print('openai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_loading_through_the_registry_by_name():
    from memplane.plugins.registry import load_provider_class

    assert load_provider_class("llms", "openai").__name__ == "OpenAILLM"
    assert load_provider_class("llms", "azure_openai").__name__ == "AzureOpenAILLM"
    assert load_provider_class("embedders", "openai").__name__ == "OpenAIEmbedder"
