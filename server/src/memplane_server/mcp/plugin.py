"""Hook plugin (entry point group ``memplane.plugins``) adding ``memplane mcp``.

Core loads every hook plugin whenever a Memory is built, so this module imports
nothing beyond argparse and the hook marker.
"""

from __future__ import annotations

import argparse
from typing import Any

from memplane.plugins.hooks import hookimpl


@hookimpl
def memplane_cli_commands(subparsers: Any) -> None:
    from memplane_server.mcp.cli import DESCRIPTION, add_arguments, run

    parser = subparsers.add_parser("mcp", help="serve memplane to MCP clients over stdio",
                                   description=DESCRIPTION)
    # SUPPRESS: `memplane --user alice mcp` keeps the value given before the subcommand.
    add_arguments(parser, default=argparse.SUPPRESS)
    parser.set_defaults(func=run)
