"""Hook plugin (entry point ``memplane.plugins: server``): adds ``memplane serve`` and
``memplane keys``. Kept import-light: everything heavy loads when a command runs."""

from __future__ import annotations

from typing import Any

from memplane.plugins.hooks import hookimpl


@hookimpl
def memplane_cli_commands(subparsers: Any) -> None:
    from memplane_server.cli import register

    register(subparsers)
