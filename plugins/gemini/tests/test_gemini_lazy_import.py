"""Loading the providers through their entry points must not import google-genai."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
from memplane.plugins.registry import load_provider_class
llm = load_provider_class("llms", "gemini")
embedder = load_provider_class("embedders", "gemini")
assert llm.__module__ == "memplane_gemini.llm", llm
assert embedder.__module__ == "memplane_gemini.embedder", embedder
llm({"api_key": "k"}); embedder({"api_key": "k"})  # constructing must stay lazy too
leaked = sorted(m for m in sys.modules if m == "google.genai" or m.startswith(("google.genai.", "httpx")))
print(",".join(leaked))
"""


def test_entry_points_do_not_import_the_sdk() -> None:
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                            check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"SDK modules imported on load: {result.stdout}"
