"""Loading the providers through their entry points must not import boto3 or botocore."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
from memplane.plugins.registry import load_provider_class
for kind, module in (("llms", "llm"), ("embedders", "embedder"), ("rerankers", "reranker")):
    cls = load_provider_class(kind, "bedrock")
    assert cls.__module__ == "memplane_bedrock." + module, cls
    cls({"region": "us-east-1"})  # constructing must stay lazy too
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore"))
print(",".join(leaked))
"""


def test_entry_points_do_not_import_the_sdk() -> None:
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                            check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"SDK modules imported on load: {result.stdout}"
