"""`memplane delete-all` and `memplane reset`: whole-scope and whole-store deletion,
each asking for confirmation unless ``--yes``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from memplane.cli.output import print_json, scope_label
from memplane.cli.session import open_memory, scope_kwargs, scope_of, store_location
from memplane.errors import ValidationError


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "delete-all", parents=[common], help="soft-delete every memory of a scope (restorable)",
        description="Soft-delete every live memory of the scope given with --user/--agent/--run. "
        "Asks for confirmation unless --yes.",
    )
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_delete_all)

    p = subparsers.add_parser(
        "reset", parents=[common], help="remove every memory of every scope (irreversible)",
        description="Remove every memory and every history entry of every scope from the "
        "configured store. Cannot be undone. Asks for confirmation unless --yes.",
    )
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_reset)


def confirm(question: str, args: argparse.Namespace) -> None:
    """Return when confirmed; raise ValidationError when not (or when nobody can answer)."""
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise ValidationError(f"{question} — stdin is not a terminal, so pass --yes to confirm")
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise ValidationError("cancelled: nothing was changed")


def cmd_delete_all(args: argparse.Namespace) -> int:
    scope = scope_of(args, "delete-all")
    with open_memory(args) as memory:
        live = memory.vector_store.count(scope)
        confirm(f"soft-delete all {live} memories of {scope_label(scope)}?", args)
        deleted = memory.delete_all(**scope_kwargs(scope))
    if args.json:
        print_json({"deleted": deleted})
    else:
        sys.stdout.write(f"soft-deleted {deleted} memories of {scope_label(scope)} "
                         "(each can be brought back with `memplane restore ID`)\n")
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    with open_memory(args) as memory:
        where = store_location(memory.vector_store) or memory.vector_store.name
        confirm(f"permanently remove every memory and all history in {where}?", args)
        memory.reset()
    if args.json:
        print_json({"reset": where})
    else:
        sys.stdout.write(f"removed every memory and all history in {where}\n")
    return 0
