"""Writing benchmark figures: one JSON file per benchmark, with how and where measured."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.bench.locomo_data import REPO_ROOT

DEFAULT_OUT = REPO_ROOT / "docs" / "benchmarks"


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def meta(command: list[str]) -> dict[str, Any]:
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _git("rev-parse", "HEAD"),
        "tree_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "command": "python -m tests.bench " + " ".join(command),
        "machine": machine(),
        # other processes compete for the 2 cores: read latencies with this in mind
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def write(out_dir: Path, name: str, figures: dict[str, Any], command: list[str]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    payload = {"benchmark": name, **meta(command), **figures}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return path


def ratio(numerator: float | None, denominator: float | None, digits: int = 2) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, digits)
