"""`memplane demo`: registers the subcommand; the script lives in memplane.demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "demo", parents=[common], help="run a scripted conversation on the embedded defaults",
        description="Run a scripted three-session conversation on the embedded defaults "
        "(sqlite store, local embedder, the approximate offline `rules` LLM) and print every "
        "ADD, UPDATE, DELETE and NONE, some searches and a memory's history. Exits 1 if one "
        "of the four event kinds did not occur. Ignores --config and the scope options.",
    )
    p.add_argument("--path", metavar="FILE", type=Path,
                   help="keep the SQLite store in this file (default: a temporary directory)")
    p.add_argument("--embedder", default="sentence_transformers", metavar="NAME",
                   help="embedder provider (default: sentence_transformers; `hashing` needs "
                   "no torch but is not semantic)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from memplane.demo import run_demo  # imports Memory and the pipeline only when run

    return run_demo(sys.stdout, path=args.path, embedder=args.embedder)
