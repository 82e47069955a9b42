"""Loading the entry-point targets must not import the SDK (start-up stays fast)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from memplane_conformance.lazy import sdk_modules_after_loading

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


AZURE = {"api_key": "k", "azure_endpoint": "https://x", "deployment": "d"}


@pytest.mark.parametrize(("name", "config"), [("openai", {"api_key": "k"}), ("azure_openai", AZURE)])
def test_loading_the_targets_leaves_the_sdk_unimported(name, config):
    configs = {"llms": config, "embedders": config}  # constructing too
    assert sdk_modules_after_loading(name, configs, ["openai"]) == []


def test_the_check_can_fail():
    code = "import memplane_openai.llm, openai, sys; print('openai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_loading_through_the_registry_by_name():
    from memplane.plugins.registry import load_provider_class

    assert load_provider_class("llms", "openai").__name__ == "OpenAILLM"
    assert load_provider_class("llms", "azure_openai").__name__ == "AzureOpenAILLM"
    assert load_provider_class("embedders", "openai").__name__ == "OpenAIEmbedder"
