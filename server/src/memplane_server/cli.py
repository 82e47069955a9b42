"""``memplane serve`` and ``memplane keys ...`` (also as the ``memplane-server`` script).

``--config FILE`` is a server settings file (fields of ServerSettings, with the memory
config under ``memory``) or, when it has none of those fields, a plain memory config.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from memplane.errors import ConfigurationError, ValidationError
from memplane.models import Scope
from memplane_server.settings import SETTINGS_ENV, ServerSettings

KEYS_DB_ENV = "MEMPLANE_SERVER_KEYS_DB"


def load_settings(args: argparse.Namespace) -> ServerSettings:
    from pydantic import ValidationError as PydanticValidationError

    from memplane.config import read_config_file

    path = getattr(args, "config", None)
    data: dict[str, Any] = read_config_file(path) if path else {}
    if data and not set(data) & (set(ServerSettings.model_fields) | {"memory"}):
        data = {"memory": data}  # a plain memory config file
    try:
        settings = ServerSettings.model_validate(data)
    except PydanticValidationError as exc:
        raise ConfigurationError(f"server settings {path!r}: {exc}") from None
    overrides: dict[str, Any] = {}
    for name in ("host", "port", "workers"):
        if getattr(args, name, None) is not None:
            overrides[name] = getattr(args, name)
    keys_db = getattr(args, "keys_db", None) or (
        os.environ.get(KEYS_DB_ENV) if "keys_db" not in data else None)
    if keys_db:
        overrides["keys_db"] = Path(keys_db)
    return settings.model_copy(update=overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from memplane.config import MemoryConfig

    settings = load_settings(args)
    if settings.memory_config:
        MemoryConfig.from_dict(settings.memory_config)  # fail fast, before any worker starts
    os.environ[SETTINGS_ENV] = settings.to_env()  # workers read it (they re-import the app)
    uvicorn.run("memplane_server.app:app_from_env", factory=True, host=settings.host,
                port=settings.port, workers=settings.workers, log_level="info",
                timeout_keep_alive=settings.keep_alive_seconds)
    return 0


def _scopes(args: argparse.Namespace) -> list[Scope]:
    scopes = []
    if any(getattr(args, f, None) for f in ("user", "agent", "run")):
        scopes.append(Scope(user_id=args.user, agent_id=args.agent, run_id=args.run))
    for spec in args.scope or []:
        ids: dict[str, str] = {}
        for part in spec.split(","):
            field, sep, value = part.partition("=")
            if not sep or field not in ("user", "agent", "run") or not value:
                raise ValidationError(f"--scope takes user=ID,agent=ID,run=ID; got {spec!r}")
            ids[f"{field}_id"] = value
        scopes.append(Scope(**ids))
    return scopes


def _key_json(info: Any) -> dict[str, Any]:
    return {"key_id": info.key_id, "name": info.name, "admin": info.admin,
            "scopes": [dict(s.items()) for s in info.scopes], "created_at": info.created_at,
            "rotated_at": info.rotated_at, "revoked_at": info.revoked_at}


def cmd_keys(args: argparse.Namespace) -> int:
    from memplane_server.audit import AuditLog
    from memplane_server.db import ServerDB
    from memplane_server.keys import KeyStore

    db = ServerDB(load_settings(args).keys_db)
    keys, audit = KeyStore(db), AuditLog(db)
    action = args.keys_action
    try:
        if action == "create":
            try:
                token, info = keys.create(scopes=_scopes(args), admin=args.admin, name=args.name)
            except ValueError as exc:
                raise ValidationError(str(exc)) from None
            audit.record(key_id="cli", operation="keys.create", scope=None,
                         detail=_key_json(info))
            if args.json:
                print(json.dumps({"key": token, **_key_json(info)}))
            else:
                print(token)
                sys.stderr.write(f"created key {info.key_id}: store it now, it is not shown again\n")
        elif action == "list":
            infos = keys.list()
            if args.json:
                print(json.dumps([_key_json(i) for i in infos]))
            for info in [] if args.json else infos:
                scopes = "admin" if info.admin else " ".join(
                    ",".join(f"{k}={v}" for k, v in s.items()) for s in info.scopes)
                state = "revoked" if info.revoked_at else "active"
                print(f"{info.key_id}  {state:7}  {info.name or '-':12}  {scopes}")
        elif action == "rotate":
            token = keys.rotate(args.key_id)
            audit.record(key_id="cli", operation="keys.rotate", scope=None,
                         detail={"key_id": args.key_id})
            print(token)
        elif action == "revoke":
            keys.revoke(args.key_id)
            audit.record(key_id="cli", operation="keys.revoke", scope=None,
                         detail={"key_id": args.key_id})
            sys.stderr.write(f"revoked key {args.key_id}\n")
    except KeyError:
        raise ValidationError(f"no active key {args.key_id!r}; see `memplane keys list`") from None
    return 0


def register(subparsers: Any, common: argparse.ArgumentParser | None = None) -> None:
    if common is None:
        from memplane.cli.main import global_options

        common = global_options(in_subcommand=True)
    p = subparsers.add_parser(
        "serve", parents=[common], help="run the memplane REST server",
        description="Serve the Memory API over HTTP (see docs/server.md).")
    p.add_argument("--host", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8080)")
    p.add_argument("--workers", type=int, help="worker processes (default 1)")
    p.add_argument("--keys-db", metavar="PATH", help="the keys + audit SQLite file")
    p.set_defaults(func=cmd_serve)

    keys = subparsers.add_parser("keys", parents=[common], help="manage API keys",
                                 description="Create, list, rotate and revoke API keys.")
    keys_sub = keys.add_subparsers(dest="keys_action", metavar="ACTION")
    keys_sub.required = True
    create = keys_sub.add_parser("create", parents=[common],
                                 help="a new key bound to --user/--agent/--run or --admin")
    create.add_argument("--scope", action="append", metavar="user=ID,agent=ID",
                        help="another scope the key may touch (repeatable)")
    create.add_argument("--admin", action="store_true", help="may touch every scope")
    create.add_argument("--name", help="a label for the key")
    keys_sub.add_parser("list", parents=[common], help="every key (never the secrets)")
    for name, text in (("rotate", "replace a key's secret"), ("revoke", "disable a key for good")):
        sp = keys_sub.add_parser(name, parents=[common], help=text)
        sp.add_argument("key_id")
    for sp in (keys, *keys_sub.choices.values()):
        sp.add_argument("--keys-db", metavar="PATH", default=argparse.SUPPRESS,
                        help=f"the keys SQLite file (default: settings, ${KEYS_DB_ENV})")
    keys.set_defaults(func=cmd_keys)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``memplane-server`` script: the same commands without the core CLI."""
    from memplane.cli.main import global_options
    from memplane.errors import MemplaneError

    parser = argparse.ArgumentParser(prog="memplane-server",
                                     parents=[global_options(in_subcommand=False)])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    register(sub, global_options(in_subcommand=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except MemplaneError as exc:
        sys.stderr.write(f"error: {' '.join(str(exc).split())}\n")
        return 2
