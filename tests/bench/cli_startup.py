"""Whole-process start-up of the ``memplane`` command on the default stack.

    python -m tests.bench.cli_startup [--runs 10]

Runs each command ``--runs`` times as a fresh process (what a user or a shell
script pays) and prints median and p90 wall time. ``add`` and ``search`` use the
default providers (rules LLM, default embedder, sqlite) on a fresh database in a
temporary directory; ``add`` infers (the rules LLM), so the embedder is loaded and
used by both. A benchmark, not a test: timings on shared CI cores are noise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

COMMANDS: dict[str, list[str]] = {
    "--version": ["--version"],
    "--help": ["--help"],
    "providers": ["providers"],
    "add": ["add", "--user", "bench", "I moved to Lisbon last year."],
    "search": ["search", "--user", "bench", "where do I live?"],
}


def run(args: list[str], env: dict[str, str]) -> float:
    exe = shutil.which("memplane")
    if exe is None:
        raise SystemExit("the memplane command is not installed in this environment")
    t = time.perf_counter()
    subprocess.run([exe, *args], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--embedder", default=None, help="MEMPLANE_EMBEDDER override")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="memplane-cli-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMPLANE_")}
    env["MEMPLANE_VECTOR_STORE__PATH"] = str(workdir / "memplane.db")
    if args.embedder:
        env["MEMPLANE_EMBEDDER"] = args.embedder
    run(COMMANDS["add"], env)  # create the database; the first open is not start-up
    print("| command | median s | p90 s | runs |")
    print("|---|---|---|---|")
    for name, argv in COMMANDS.items():
        times = sorted(run(argv, env) for _ in range(args.runs))
        p90 = times[min(len(times) - 1, round(0.9 * (len(times) - 1)))]
        print(f"| memplane {name} | {statistics.median(times):.2f} | {p90:.2f} | {args.runs} |",
              flush=True)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
