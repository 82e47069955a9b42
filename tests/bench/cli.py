"""`python -m tests.bench SUBCOMMAND`: run benchmarks, write docs/benchmarks/*.json."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from tests.bench import locomo_data, mem0_env, render
from tests.bench.report import DEFAULT_OUT, write

FULL_SIZES = [1_000, 10_000, 100_000]
QUICK_SIZES = [1_000, 10_000]


def _sizes(text: str) -> list[int]:
    try:
        return [int(float(part)) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes are comma-separated integers, got {text!r}") from None


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description="memplane benchmarks; figures go to docs/benchmarks/*.json "
        "(see docs/benchmarks.md)",
    )
    sub = root.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the JSON goes")
        p.add_argument("--quick", action="store_true",
                       help="sizes 1k and 10k only, fewer queries and 3 LoCoMo conversations")
        p.add_argument("--mem0", choices=["auto", "yes", "no"], default="auto",
                       help="also run mem0 (auto: when its environment is installed)")

    core = sub.add_parser("core", help="sqlite store: search, ingest, add overhead, prompt tokens")
    locomo = sub.add_parser("locomo", help="LoCoMo retrieval: recall@k and hit@k")
    scaling = sub.add_parser("scaling", help="N = 1k/10k/100k in one scope, per store and system")
    everything = sub.add_parser("all", help="core, locomo and scaling")
    report = sub.add_parser("report", help="regenerate the tables of docs/benchmarks.md from the JSON")
    report.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the JSON is")
    mem0 = sub.add_parser("mem0", help="install or inspect the mem0 comparison environment")
    mem0.add_argument("--install", action="store_true", help="create .bench-venv and pip-install mem0")
    mem0.add_argument("--version", default=mem0_env.MEM0_VERSION, help="mem0ai version to install")
    for p in (core, locomo, scaling, everything):
        common(p)
    for p in (core, scaling, everything):
        p.add_argument("--sizes", type=_sizes, default=None, help="e.g. 1000,10000,100000")
        p.add_argument("--queries", type=int, default=None, help="searches per size")
    for p in (locomo, everything):
        p.add_argument("--data", default=None,
                       help="locomo10.json (default: $MEMPLANE_LOCOMO, else "
                       "../shared/data/locomo10.json beside the repository)")
        p.add_argument("--conversations", type=int, default=None, help="use only the first N")
        p.add_argument("--no-prototypes", action="store_true",
                       help="skip the alternative fusions measured inside the benchmark")
    for p in (scaling, everything):
        p.add_argument("--stores", default="sqlite,milvus", help="memplane stores to scale")
        p.add_argument("--milvus-max-size", type=int, default=None,
                       help="largest N run on Milvus Lite (slow inserts; default: no cap)")
    return root


def want_mem0(choice: str) -> bool:
    if choice == "no":
        return False
    if choice == "yes":
        mem0_env.require()
        return True
    present = mem0_env.installed()
    if not present:
        print("mem0 environment not installed: skipping mem0 (python -m tests.bench mem0 --install)",
              file=sys.stderr)
    return present


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    raw = list(sys.argv[1:] if argv is None else argv)
    if not raw or (raw[0].startswith("-") and raw[0] not in ("-h", "--help")):
        raw = ["all", *raw]  # `tox -e bench` with no arguments runs everything
    args = parser().parse_args(raw)
    if args.command == "mem0":
        if args.install:
            mem0_env.install(args.version)
        print(f"mem0 environment {mem0_env.VENV}: "
              f"{'installed' if mem0_env.installed() else 'not installed'}")
        return 0

    if args.command == "report":
        render.update_page(args.out)
        print(f"updated {render.PAGE}")
        return 0

    with_mem0 = want_mem0(args.mem0)
    commands = ["core", "locomo", "scaling"] if args.command == "all" else [args.command]
    for command in commands:
        started = time.perf_counter()
        load = [round(x, 2) for x in os.getloadavg()]
        figures = run_one(command, args, with_mem0)
        figures["load_average_at_start"] = load
        figures["bench_seconds"] = round(time.perf_counter() - started, 1)
        write(args.out, command, figures, raw)
    if args.out.resolve() == DEFAULT_OUT.resolve():
        render.update_page(args.out)
    return 0


def run_one(command: str, args: argparse.Namespace, with_mem0: bool) -> dict[str, object]:
    sizes = args.sizes if getattr(args, "sizes", None) else (QUICK_SIZES if args.quick else FULL_SIZES)
    queries = getattr(args, "queries", None) or (50 if args.quick else 200)
    if command == "core":
        from tests.bench import core_bench

        return core_bench.run(sizes, queries, with_mem0)
    if command == "locomo":
        from tests.bench import locomo_bench

        conversations = args.conversations or (3 if args.quick else None)
        return locomo_bench.run(
            locomo_data.data_path(args.data), conversations, with_mem0, not args.no_prototypes
        )
    from tests.bench import scaling_bench

    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    return scaling_bench.run(sizes, stores, min(queries, 100), with_mem0, args.milvus_max_size)
