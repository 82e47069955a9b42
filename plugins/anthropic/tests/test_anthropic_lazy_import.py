"""Loading the entry-point target must not import the SDK (start-up stays fast)."""

from __future__ import annotations

import subprocess
import sys

from memplane.plugins.registry import load_provider_class
from memplane_conformance.lazy import sdk_modules_after_loading


def test_loading_and_constructing_the_provider_leaves_the_sdk_unimported():
    assert sdk_modules_after_loading("anthropic", {"llms": {"api_key": "k"}}, ["anthropic"]) == []
    assert load_provider_class("llms", "anthropic").__name__ == "AnthropicLLM"


def test_the_check_can_fail():
    code = "import memplane_anthropic.llm, anthropic, sys; print('anthropic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
