"""``memplane mcp`` (through core's CLI hook) and the ``memplane-mcp`` script."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from memplane.errors import MemplaneError


def add_arguments(parser: argparse.ArgumentParser, *, default: Any = None) -> None:
    parser.add_argument("--config", metavar="FILE", default=default,
                        help="YAML or TOML config file (default: $MEMPLANE_CONFIG, else MEMPLANE_* variables)")
    parser.add_argument("--user", metavar="ID", default=default,
                        help="bind to this user id (default: $MEMPLANE_MCP_USER_ID)")
    parser.add_argument("--agent", metavar="ID", default=default,
                        help="bind to this agent id (default: $MEMPLANE_MCP_AGENT_ID)")
    parser.add_argument("--run", metavar="ID", default=default,
                        help="bind to this run id (default: $MEMPLANE_MCP_RUN_ID)")


DESCRIPTION = (
    "Serve memplane to an MCP client (e.g. a desktop assistant) over stdio, bound to one "
    "scope. For MCP over HTTP with API keys, run the server: its /mcp endpoint."
)


def run(args: argparse.Namespace) -> int:
    # Imported here: `memplane --help` and every Memory() load the hook plugin,
    # which must not pull in the MCP SDK.
    from memplane.config import MemoryConfig

    try:
        import anyio

        from memplane_server.mcp.stdio import scope_from, serve_stdio
    except ImportError as exc:  # memplane-server installed without the mcp extra
        raise MemplaneError(
            f"memplane mcp needs the MCP SDK ({exc}): pip install 'memplane-server[mcp]'"
        ) from None

    scope = scope_from(user_id=getattr(args, "user", None), agent_id=getattr(args, "agent", None),
                       run_id=getattr(args, "run", None))
    config = MemoryConfig.load(getattr(args, "config", None))
    anyio.run(serve_stdio, config, scope)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``memplane-mcp``: the same command without going through ``memplane``."""
    parser = argparse.ArgumentParser(prog="memplane-mcp", description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except MemplaneError as exc:
        sys.stderr.write(f"error: {' '.join(str(exc).split())}\n")
        return 2
    except KeyboardInterrupt:
        return 130
