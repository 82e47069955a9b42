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
        "(sqlite store, local embedder, the approximate offline `rules` LLM, or a real one with --llm) and print every "
        "ADD, UPDATE, DELETE and NONE, some searches and a memory's history. Exits 1 if one "
        "of the four event kinds did not occur. Ignores --config and the scope options.",
    )
    p.add_argument("--path", metavar="FILE", type=Path,
                   help="keep the SQLite store in this file (default: a temporary directory)")
    p.add_argument("--embedder", default=None, metavar="NAME",
                   help="embedder provider (default: the configured default embedder; "
                   "`hashing` needs no model but is not semantic)")
    p.add_argument("--llm", default="rules", metavar="NAME[:MODEL]",
                   help="LLM provider (default: rules). `llamacpp:PATH.gguf` or "
                   "`llamacpp:smollm2-135m` runs the conversation on a real local model")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from memplane.config import DEFAULT_PROVIDERS
    from memplane.demo import run_demo  # imports Memory and the pipeline only when run

    return run_demo(sys.stdout, path=args.path, llm=args.llm,
                    embedder=args.embedder or DEFAULT_PROVIDERS["embedder"])
