"""Loading the entry-point target must not import the SDK (start-up stays fast)."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_loading_and_constructing_the_provider_leaves_the_sdk_unimported():
    code = (
        "import sys\n"
        "from memplane.plugins.registry import load_provider_class\n"
        "cls = load_provider_class('llms', 'anthropic')\n"
        "cls({'api_key': 'k'})\n"
        "print(cls.__name__, sorted(m for m in sys.modules if m.split('.')[0] == 'anthropic'))\n"
    )
    assert _run(code) == "AnthropicLLM []"


def test_the_check_can_fail():
    assert _run("import memplane_anthropic.llm, anthropic, sys; print('anthropic' in sys.modules)") == "True"
