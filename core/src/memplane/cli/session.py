"""What every memory subcommand needs: the scope and the configured Memory."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError as PydanticValidationError

from memplane.errors import ValidationError
from memplane.models import Scope

if TYPE_CHECKING:
    from memplane.config import MemoryConfig
    from memplane.memory import Memory


def scope_of(args: argparse.Namespace, operation: str, *, required: bool = True) -> Scope:
    try:
        scope = Scope(
            user_id=getattr(args, "user", None),
            agent_id=getattr(args, "agent", None),
            run_id=getattr(args, "run", None),
        )
    except PydanticValidationError:
        raise ValidationError("--user, --agent and --run take non-empty ids") from None
    # against a server, the API key may decide the scope (one bound to a single scope)
    if required and scope.is_empty and not getattr(args, "server", None):
        raise ValidationError(
            f"memplane {operation} needs a scope: pass --user, --agent or --run (at least one)"
        )
    return scope


def scope_kwargs(scope: Scope) -> dict[str, Any]:
    """user_id/agent_id/run_id keyword arguments for Memory calls."""
    return dict(scope.items())


def load_config(args: argparse.Namespace) -> MemoryConfig:
    """The config file given with --config (or $MEMPLANE_CONFIG), else the
    environment and the embedded defaults."""
    from memplane.config import MemoryConfig

    return MemoryConfig.load(getattr(args, "config", None))


def store_location(store: object) -> str | None:
    """Where a store keeps its data (a file path or a server URI), when its config says."""
    location = getattr(store, "location", None)
    return location if isinstance(location, str) and location else None


def open_memory(args: argparse.Namespace) -> Memory:
    if getattr(args, "server", None):
        from memplane.client import MemoryClient

        # same methods and results: the subcommands cannot tell the difference
        return cast("Memory", MemoryClient(args.server))
    config = load_config(args)  # config errors first: they need no provider import
    from memplane.memory import Memory

    return Memory(config)


def read_stdin_text() -> str:
    """stdin as UTF-8 text; undecodable bytes are an error, not a traceback."""
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # already text (tests, embedding applications)
        return sys.stdin.read()
    try:
        return bytes(buffer.read()).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"stdin is not UTF-8 text (byte {exc.start})") from None


def parse_json_option(text: str | None, option: str) -> Any:
    if text is None:
        return None
    from memplane.inputs import MAX_NESTING
    from memplane.pipeline.parsing import json_depth

    if json_depth(text) > MAX_NESTING:  # json.loads would raise RecursionError
        raise ValidationError(f"{option} nests deeper than {MAX_NESTING} levels")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{option} must be JSON ({exc.msg} at column {exc.colno})") from None


def read_conversation(name: str) -> list[Any]:
    """The messages of a conversation file: a JSON list, or an object with ``messages``.
    Each message's shape is checked by ``Memory.add``."""
    try:
        raw = read_stdin_text() if name == "-" else Path(name).read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ValidationError(f"no such file: {name}") from None
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{name} is not UTF-8 text (byte {exc.start})") from None
    try:
        data = json.loads(raw)
    except RecursionError:
        raise ValidationError(f"{name} nests JSON too deeply") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{name} is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if isinstance(data, Mapping):
        data = data.get("messages")
    if not isinstance(data, list) or not data:
        raise ValidationError(f"{name} must hold a non-empty JSON list of {{role, content}} messages "
                              "(or an object with a 'messages' list)")
    return data


def parse_metadata(items: list[str] | None, as_json: str | None) -> dict[str, Any]:
    """Merge ``--metadata '{"k": 1}'`` and repeated ``--meta KEY=VALUE`` (values are
    parsed as JSON when they are valid JSON, else kept as strings)."""
    metadata: dict[str, Any] = {}
    parsed = parse_json_option(as_json, "--metadata")
    if parsed is not None:
        if not isinstance(parsed, Mapping):
            raise ValidationError("--metadata must be a JSON object, e.g. '{\"topic\": \"food\"}'")
        metadata.update(parsed)
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValidationError(f"--meta takes KEY=VALUE, got {item!r}")
        try:
            metadata[key] = json.loads(raw)
        except json.JSONDecodeError:
            metadata[key] = raw
    return metadata


def parse_time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"{option} takes an ISO 8601 date or time, e.g. 2025-01-31 or "
            f"2025-01-31T09:30:00+00:00; got {text!r}"
        ) from None
    # a time without an offset is read as UTC, the zone memplane stores
    return value if value.tzinfo else value.replace(tzinfo=UTC)
