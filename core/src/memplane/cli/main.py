"""The ``memplane`` command: argparse structure, dispatch and error reporting.

Each subcommand lives in a small module that registers its parser and sets a
``func(args) -> int`` default. Hook plugins add their own subcommands the same way
through ``memplane_cli_commands``. Errors memplane raises on purpose print one line
``error: ...`` and exit 2; nothing is ever sent anywhere (no telemetry).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from memplane import __version__
from memplane.cli.messages import for_cli
from memplane.errors import MemplaneError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def global_options(*, in_subcommand: bool) -> argparse.ArgumentParser:
    """Options accepted before or after the subcommand.

    Subparsers use SUPPRESS defaults so a value given before the subcommand is not
    overwritten by the subcommand's own (unset) copy of the option.
    """
    parent = argparse.ArgumentParser(add_help=False)

    def default(value: object) -> object:
        return argparse.SUPPRESS if in_subcommand else value

    parent.add_argument(
        "--config", metavar="FILE", default=default(os.environ.get("MEMPLANE_CONFIG")),
        help="YAML or TOML config file (default: $MEMPLANE_CONFIG, else the "
        "environment variables, else the embedded defaults)",
    )
    parent.add_argument(
        "--server", metavar="URL", default=default(os.environ.get("MEMPLANE_SERVER_URL")),
        help="talk to a memplane server instead of a local store (key from "
        "$MEMPLANE_API_KEY; default: $MEMPLANE_SERVER_URL)",
    )
    parent.add_argument("--user", metavar="ID", default=default(None), help="scope: user id")
    parent.add_argument("--agent", metavar="ID", default=default(None), help="scope: agent id")
    parent.add_argument("--run", metavar="ID", default=default(None), help="scope: run id")
    parent.add_argument(
        "--json", action="store_true", default=default(False),
        help="print machine-readable JSON instead of text",
    )
    return parent


def build_parser(*, with_plugins: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memplane",
        description="Self-correcting long-term memory for LLM applications.",
        parents=[global_options(in_subcommand=False)],
    )
    parser.add_argument("--version", action="version", version=f"memplane {__version__}")
    # the subcommand modules load pydantic and the models: not for `--version` (see main)
    from memplane.cli import bulk, demo_command, memories, providers, transfer

    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    common = global_options(in_subcommand=True)
    memories.register(subparsers, common)
    bulk.register(subparsers, common)
    transfer.register(subparsers, common)
    providers.register(subparsers, common)
    demo_command.register(subparsers, common)
    if with_plugins:
        from memplane.plugins.hooks import PluginManager

        PluginManager().cli_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if list(sys.argv[1:] if argv is None else argv) == ["--version"]:
        # answered before the parser exists: building it imports every subcommand
        # module and the hook plugins, which `--version` has no use for
        sys.stdout.write(f"memplane {__version__}\n")
        raise SystemExit(EXIT_OK)  # as argparse's own version action does
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:  # a plugin's subcommand that forgot set_defaults(func=...)
        sys.stderr.write(f"error: the command {args.command!r} has no handler; "
                         f"report it to the plugin that adds it\n")
        return EXIT_USAGE
    try:
        result = func(args)
    except MemplaneError as exc:
        sys.stderr.write(f"error: {_one_line(for_cli(str(exc)))}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:  # `memplane export | head`: the reader left, not an error
        sys.stderr.close()
        return EXIT_OK
    return EXIT_OK if result is None else int(result)


def _one_line(message: str) -> str:
    return " ".join(message.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
