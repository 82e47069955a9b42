"""Whole-process start-up of the ``memplane`` command on the default stack.

    python -m tests.bench.cli_startup [--runs 10] [--embedder NAME]
        [--memplane PATH ...]

Runs each command ``--runs`` times as a fresh process (what a user or a shell
script pays) and prints the median and p90 wall time and the median CPU time
(user + system of the child). ``add`` and ``search`` use the default providers
(rules LLM, default embedder, sqlite) on a database in a temporary directory;
``add`` infers (the rules LLM), so the embedder is loaded and used by both.

``--memplane`` (repeatable) names the ``memplane`` executables to compare, e.g. a
venv with the base commit and one with a change: runs alternate between them, so
the load of a shared machine falls on both alike. Bytecode is written as a pip install
would (PYTHONDONTWRITEBYTECODE is dropped from the children's environment). Wall time on busy shared cores
is mostly waiting for a core; CPU time is what the process itself costs, close to
the wall time on a quiet machine. The load average is printed before and after.
A benchmark, not a test: timings on shared CI cores are noise.
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


def run(exe: str, args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one whole process."""
    t = time.perf_counter()
    proc = subprocess.Popen([exe, *args], env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{exe} {' '.join(args)} exited with {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--embedder", default=None, help="MEMPLANE_EMBEDDER override")
    parser.add_argument("--memplane", action="append", default=None,
                        help="a memplane executable (repeat to compare; default: the one on PATH)")
    parser.add_argument("--commands", default=",".join(COMMANDS), help="comma-separated subset")
    args = parser.parse_args()
    exes = args.memplane or [shutil.which("memplane") or ""]
    if not all(exes):
        raise SystemExit("the memplane command is not installed in this environment")
    workdir = Path(tempfile.mkdtemp(prefix="memplane-cli-"))
    # an installed package has its bytecode compiled (pip does it); an editable
    # checkout run with PYTHONDONTWRITEBYTECODE recompiles every module on each start
    base_env = {k: v for k, v in os.environ.items()
                if not k.startswith("MEMPLANE_") and k != "PYTHONDONTWRITEBYTECODE"}
    if args.embedder:
        base_env["MEMPLANE_EMBEDDER"] = args.embedder
    envs = []
    for i, exe in enumerate(exes):  # one database each: the installs may differ in schema
        env = {**base_env, "MEMPLANE_VECTOR_STORE__PATH": str(workdir / f"memplane-{i}.db")}
        run(exe, COMMANDS["add"], env)  # create the database; the first open is not start-up
        envs.append(env)
    print(f"load average before: {load()}")
    label = "executable | " if len(exes) > 1 else ""
    print(f"| {label}command | median wall s | p90 wall s | median CPU s | runs |")
    print("|" + "---|" * (5 + bool(label)))
    for name in args.commands.split(","):
        samples: list[list[tuple[float, float]]] = [[] for _ in exes]
        for _ in range(args.runs):
            for i, exe in enumerate(exes):
                samples[i].append(run(exe, COMMANDS[name], envs[i]))
        for exe, got in zip(exes, samples, strict=True):
            walls = sorted(w for w, _ in got)
            p90 = walls[min(len(walls) - 1, round(0.9 * (len(walls) - 1)))]
            cpu = statistics.median(c for _, c in got)
            cell = f"{exe} | " if label else ""
            print(f"| {cell}memplane {name} | {statistics.median(walls):.2f} | {p90:.2f} | "
                  f"{cpu:.2f} | {args.runs} |", flush=True)
    print(f"load average after: {load()}")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
