"""docs/cli.md documents every subcommand and every option the parser accepts."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from memplane.cli.main import build_parser

CLI_DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


@pytest.mark.skipif(not CLI_DOC.is_file(), reason="docs/ is not next to this checkout")
def test_every_subcommand_and_option_is_documented() -> None:
    doc = CLI_DOC.read_text(encoding="utf-8")
    parser = build_parser(with_plugins=False)
    missing = []
    for name, sub in subcommands(parser).items():
        if f"`memplane {name}" not in doc:
            missing.append(f"subcommand {name}")
        for action in sub._actions:
            for option in action.option_strings:
                if option.startswith("--") and f"`{option}" not in doc and f" {option}" not in doc:
                    missing.append(f"{name} {option}")
    assert missing == []
