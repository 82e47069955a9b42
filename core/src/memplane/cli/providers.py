"""`memplane providers` (what is installed, from metadata only) and `memplane doctor`
(load everything, report what fails, never crash on a broken plugin)."""

from __future__ import annotations

import argparse
import importlib.metadata as md
from dataclasses import asdict, dataclass
from typing import Any

from memplane.cli.output import print_json, print_lines, table
from memplane.errors import EmbedderMismatch
from memplane.plugins.hooks import HOOK_GROUP
from memplane.plugins.registry import list_providers, load_provider_class
from memplane.providers.base import KINDS, Capability, Embedder, Kind, VectorStore
from memplane.providers.identity import EMBEDDER_KEY, EmbedderIdentity


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "providers", parents=[common], help="list installed providers (imports none of them)",
        description="List installed providers and hook plugins with their distribution and "
        "version, read from package metadata without importing any provider.",
    )
    p.add_argument("--kind", choices=[*KINDS, "plugins"], help="only this kind")
    p.set_defaults(func=cmd_providers)

    p = subparsers.add_parser(
        "doctor", parents=[common], help="load every provider and report failures",
        description="Import every installed provider and hook plugin, build the configured "
        "ones, and report what fails. Exits 1 if anything failed.",
    )
    p.set_defaults(func=cmd_doctor)


@dataclass(frozen=True)
class Row:
    kind: str
    name: str
    distribution: str | None
    version: str | None
    target: str


def installed(kind: str | None = None) -> list[Row]:
    rows: list[Row] = []
    if kind != "plugins":
        rows += [
            Row(p.kind, p.name, p.distribution, p.version, p.target)
            for p in list_providers(kind)  # type: ignore[arg-type]
        ]
    if kind in (None, "plugins"):
        for ep in sorted(md.entry_points(group=HOOK_GROUP), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            rows.append(Row("plugins", ep.name, dist.metadata["Name"] if dist else None,
                            dist.version if dist else None, ep.value))
    return rows


def cmd_providers(args: argparse.Namespace) -> int:
    rows = installed(args.kind)
    if args.json:
        print_json([asdict(r) for r in rows])
        return 0
    print_lines(table([[r.kind, r.name, r.distribution or "?", r.version or "?"] for r in rows],
                      ["KIND", "NAME", "DISTRIBUTION", "VERSION"]))
    return 0


@dataclass
class Check:
    what: str
    ok: bool
    detail: str


def _installed_checks() -> list[Check]:
    checks: list[Check] = []
    for info in list_providers():
        try:
            load_provider_class(info.kind, info.name)
        except Exception as exc:  # report every failure, whatever its type
            checks.append(Check(f"{info.kind}:{info.name}", False, _message(exc)))
        else:
            checks.append(Check(f"{info.kind}:{info.name}", True,
                                f"{info.distribution or '?'} {info.version or '?'}"))
    return checks


def _plugin_checks() -> list[Check]:
    from memplane.plugins.hooks import PluginManager

    manager = PluginManager(autoload=True)
    checks = [Check(f"plugins:{name}", True, "registered") for name in manager.plugin_names]
    checks += [Check(f"plugins:{name}", False, why) for name, why in manager.failures.items()]
    return checks


def _configured_checks(args: argparse.Namespace) -> list[Check]:
    """Build each provider the configuration names, as `memplane add` would, and
    open the store with the embedder's dimension."""
    from memplane.cli.session import load_config, store_location
    from memplane.plugins.registry import create_provider

    try:
        config = load_config(args)
    except Exception as exc:
        return [Check("config", False, _message(exc))]
    checks = [Check("config", True, getattr(args, "config", None) or "environment and defaults")]
    identity: EmbedderIdentity | None = None
    for kind in KINDS:
        spec = configured_spec(config, kind)
        if spec is None:
            continue
        label = f"configured {kind}"
        recorded: Check | None = None
        try:
            provider = create_provider(kind, spec)
            detail = provider.name
            if isinstance(provider, Embedder):
                identity = provider.identity()
                detail = identity.describe()
            elif isinstance(provider, VectorStore) and identity is not None:
                try:  # what Memory does at start: a DimensionMismatch shows here
                    provider.open(identity.dimension)
                    detail += f" (opened for {identity.dimension}-dimensional vectors)"
                    where = store_location(provider)
                    detail += f" at {where}" if where else ""
                    recorded = _recorded_embedder(provider, identity)
                finally:
                    provider.close()
            provider.close()
        except Exception as exc:
            checks.append(Check(label, False, _message(exc)))
        else:
            checks.append(Check(label, True, detail))
        if recorded is not None:
            checks.append(recorded)
    return checks


def _recorded_embedder(store: VectorStore, identity: EmbedderIdentity) -> Check:
    """The embedder the store records for its vectors, against the configured one."""
    what = "store's embedder"
    if not store.has(Capability.STORE_INFO):
        return Check(what, True, f"warning: {store.name!r} cannot record which embedder wrote "
                     "its vectors; switching embedders on it is not detected (see "
                     "docs/user-guide.md#changing-the-embedder)")
    value = store.get_info(EMBEDDER_KEY)
    if value is None:
        return Check(what, True, f"none recorded yet: the first write records {identity.describe()}")
    theirs = EmbedderIdentity.decode(value)
    if theirs == identity:
        return Check(what, True, f"{identity.describe()} (matches the configured embedder)")
    from memplane.pipeline.identity_gate import describe_store

    mismatch = EmbedderMismatch(store=describe_store(store), configured=identity.describe(),
                                recorded=theirs.describe() if theirs else repr(value[:80]),
                                unreadable=theirs is None)
    return Check(what, False, _message(mismatch))


def configured_spec(config: Any, kind: Kind) -> Any:
    """The provider block a MemoryConfig holds for ``kind`` (None when unset)."""
    attribute = {"llms": "llm", "embedders": "embedder", "vector_stores": "vector_store",
                 "rerankers": "reranker"}[kind]
    block = getattr(config, attribute, None)
    if block is None:
        return None
    if hasattr(block, "model_dump"):
        return block.model_dump()
    return block


def _message(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def cmd_doctor(args: argparse.Namespace) -> int:
    checks = _installed_checks() + _plugin_checks() + _configured_checks(args)
    failed = [c for c in checks if not c.ok]
    if args.json:
        print_json({"ok": not failed, "checks": [asdict(c) for c in checks]})
    else:
        print_lines(table([["ok" if c.ok else "FAIL", c.what, c.detail] for c in checks],
                          ["", "CHECK", "DETAIL"]))
        print_lines([f"{len(failed)} problem(s) found" if failed else "everything loads"])
    return 1 if failed else 0
