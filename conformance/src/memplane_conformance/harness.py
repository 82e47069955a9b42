"""How zero-code mode builds a provider under test.

``pytest --pyargs memplane_conformance --memplane-provider KIND:NAME`` loads the
provider class through memplane's registry (the same entry points memplane uses) and
asks a *harness* how to make test instances of it. A plugin ships a harness by
registering an object under the optional entry-point group ``memplane.conformance``
with the name ``<kind>.<name>``::

    [project.entry-points."memplane.conformance"]
    "llms.openai" = "memplane_openai.testing:OpenAIHarness"

The object is a :class:`ProviderHarness` subclass (or an instance of one). Without a
harness the suite uses :class:`ProviderHarness` itself: the config comes from
``--memplane-provider-config FILE`` (YAML, TOML or JSON), with ``{tmp_path}`` in any
string value replaced by a fresh temporary directory for each instance.
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from memplane.providers.base import LLM, Provider
from memplane_conformance.endpoint import ScriptedEndpoint

HARNESS_GROUP = "memplane.conformance"


class ProviderHarness:
    """Default recipe for making test instances of a provider; override what differs.

    ``file_config`` is the mapping read from ``--memplane-provider-config`` (may be empty).
    """

    def __init__(self, provider_class: type[Provider], file_config: Mapping[str, Any]) -> None:
        self.provider_class = provider_class
        self.file_config = dict(file_config)

    # every kind ------------------------------------------------------------------
    def provider_config(self, tmp_path: Path) -> dict[str, Any]:
        """Config for one fresh, isolated instance. Vector stores must point at new,
        empty storage under ``tmp_path`` (a new file, a new collection name...)."""
        return dict(substitute(self.file_config, tmp_path))

    def create(self, tmp_path: Path, **overrides: Any) -> Provider:
        return self.provider_class({**self.provider_config(tmp_path), **overrides})

    def cleanup(self, provider: Provider) -> None:
        """Drop whatever ``create`` made outside ``tmp_path`` (remote collections...)."""

    # LLMs ------------------------------------------------------------------------
    @contextlib.contextmanager
    def scripted_endpoint(self) -> Iterator[ScriptedEndpoint]:
        """Start the plugin's loopback server; yield it; stop it. LLM plugins override."""
        raise NotImplementedError(
            f"the LLM provider {self.provider_class.name!r} has no conformance harness with a "
            f"scripted endpoint: register a ProviderHarness subclass under the "
            f"'{HARNESS_GROUP}' entry-point group as 'llms.{self.provider_class.name}'"
        )
        yield  # pragma: no cover - makes this a generator

    def endpoint_config(self, endpoint: ScriptedEndpoint) -> dict[str, Any]:
        """Config keys that connect the LLM to ``endpoint`` (base_url, api_key, timeout)."""
        return {}

    def llm_factory(self, endpoint: ScriptedEndpoint, tmp_path: Path) -> Callable[..., LLM]:
        """A callable(**overrides) -> LLM connected to ``endpoint``."""

        def make(**overrides: Any) -> LLM:
            config = {**self.provider_config(tmp_path), **self.endpoint_config(endpoint), **overrides}
            return self.provider_class(config)  # type: ignore[return-value]

        return make

    def live_config(self) -> dict[str, Any] | None:
        """Config for the real service when credentials are present, else None."""
        return None


def substitute(value: Any, tmp_path: Path) -> Any:
    """Replace ``{tmp_path}`` in every string of a config tree."""
    if isinstance(value, str):
        return value.replace("{tmp_path}", str(tmp_path))
    if isinstance(value, Mapping):
        return {k: substitute(v, tmp_path) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, tmp_path) for v in value]
    return value


def read_config_file(path: str | None) -> dict[str, Any]:
    """Read ``--memplane-provider-config``: a mapping of the provider's config keys
    (a ``config:`` block as in a MemoryConfig is accepted too)."""
    if not path:
        return {}
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    data: Any
    if file.suffix in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text) or {}
    elif file.suffix == ".toml":
        import tomllib

        data = tomllib.loads(text)
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the provider config must be a mapping of config keys")
    if set(data) <= {"provider", "config"} and isinstance(data.get("config"), dict):
        data = data["config"]
    return dict(data)


def find_harness(kind: str, name: str) -> type[ProviderHarness] | ProviderHarness | None:
    """The harness a plugin registered for ``kind``/``name``, if any."""
    for ep in md.entry_points(group=HARNESS_GROUP):
        if ep.name == f"{kind}.{name}":
            return ep.load()  # type: ignore[no-any-return]
    return None


def make_harness(kind: str, name: str, provider_class: type[Provider],
                 file_config: Mapping[str, Any]) -> ProviderHarness:
    found = find_harness(kind, name)
    if found is None:
        return ProviderHarness(provider_class, file_config)
    if isinstance(found, ProviderHarness):
        found.provider_class = provider_class
        found.file_config = {**found.file_config, **file_config}
        return found
    return found(provider_class, file_config)
