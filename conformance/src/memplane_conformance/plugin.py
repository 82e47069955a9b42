"""The pytest plugin (entry point ``pytest11``: ``memplane_conformance.plugin``).

Inert unless used: without ``--memplane-provider`` it collects nothing of its own and
adds no fixtures an unrelated test suite could trip over (its fixtures all start
with ``memplane_``). What it does:

- ``--memplane-provider KIND:NAME`` (zero-code mode) loads the installed provider
  through ``memplane.plugins.registry`` and collects the test modules in
  ``memplane_conformance/suite`` for that kind, which run the same contract classes
  authors subclass;
- ``--memplane-provider-config FILE`` gives that provider's config keys;
- the no-silent-override guard also refuses, at collection, a contract subclass that
  replaced the guard test itself.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# the run guard: every suite test ran as written or ended a declared way
pytest_plugins = ["memplane_conformance.guard"]

SUITE_DIR = Path(__file__).parent / "suite"
KIND_MODULES = {
    "vector_stores": "test_vector_stores.py",
    "embedders": "test_embedders.py",
    "llms": "test_llms.py",
    "rerankers": "test_rerankers.py",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("memplane", "memplane provider conformance")
    group.addoption(
        "--memplane-provider",
        metavar="KIND:NAME",
        default=None,
        help="run the conformance suite against an installed provider, e.g. vector_stores:sqlite "
        "(kinds: " + ", ".join(KIND_MODULES) + ")",
    )
    group.addoption(
        "--memplane-provider-config",
        metavar="FILE",
        default=None,
        help="YAML/TOML/JSON file with the provider's config keys; '{tmp_path}' in a value "
        "becomes a fresh temporary directory per instance",
    )


@dataclass
class Target:
    """The provider zero-code mode is testing."""

    kind: str
    name: str
    provider_class: type
    harness: Any  # memplane_conformance.harness.ProviderHarness


def _parse_target(config: pytest.Config) -> tuple[str, str] | None:
    spec = config.getoption("--memplane-provider", default=None)
    if not spec:
        return None
    kind, sep, name = str(spec).partition(":")
    if not sep or kind not in KIND_MODULES or not name:
        raise pytest.UsageError(
            f"--memplane-provider takes KIND:NAME with KIND one of {list(KIND_MODULES)}, "
            f"e.g. vector_stores:sqlite; got {spec!r}"
        )
    return kind, name


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # pytest-asyncio (a dependency of the suite) warns from its own pytest_configure,
    # on every run, when asyncio_default_fixture_loop_scope is unset (zero-code mode
    # outside a project); the suite has no async fixtures, so the choice is moot
    warnings.filterwarnings(
        "ignore", message='The configuration option "asyncio_default_fixture_loop_scope" is unset',
        category=pytest.PytestDeprecationWarning,
    )
    config.addinivalue_line(
        "markers", "live: talks to a real service; runs only when credentials are present"
    )
    parsed = _parse_target(config)
    if parsed is None:
        return
    kind, name = parsed
    from memplane.errors import MemplaneError
    from memplane.plugins.registry import load_provider_class
    from memplane_conformance.harness import make_harness, read_config_file

    try:
        cls = load_provider_class(kind, name)
        file_config = read_config_file(config.getoption("--memplane-provider-config"))
        harness = make_harness(kind, name, cls, file_config)
    except (MemplaneError, OSError, ValueError) as exc:
        raise pytest.UsageError(f"--memplane-provider {kind}:{name}: {exc}") from exc
    refuse_unsafe_target(kind, cls, harness, file_config)
    config.stash[_TARGET] = Target(kind, name, cls, harness)


_TARGET = pytest.StashKey[Target]()


def refuse_unsafe_target(kind: str, cls: type, harness: Any, file_config: dict[str, Any]) -> None:
    """Refuse a persistent store with neither a harness nor a config file: the suite
    resets stores, so it must never run on the provider's default location."""
    from memplane_conformance.harness import ProviderHarness

    if (kind == "vector_stores" and type(harness) is ProviderHarness and not file_config
            and "persistent" in getattr(cls, "capabilities", frozenset())):
        raise pytest.UsageError(
            f"--memplane-provider {kind}:{getattr(cls, 'name', cls.__name__)}: this store is "
            f"persistent and has no conformance harness, so the suite does not know where "
            f"fresh, disposable storage is. Pass --memplane-provider-config FILE pointing it "
            f"under '{{tmp_path}}' (e.g. path: \"{{tmp_path}}/store.db\"), or register a "
            f"ProviderHarness under the 'memplane.conformance' entry-point group"
        )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Collect the shipped suite modules only in zero-code mode, and only the kind asked."""
    try:
        inside = collection_path.resolve().is_relative_to(SUITE_DIR.resolve())
    except OSError:
        return None
    if not inside or collection_path.is_dir():
        return None
    if not collection_path.name.startswith("test_"):
        return None
    target = config.stash.get(_TARGET, None)
    if target is None or collection_path.name != KIND_MODULES[target.kind]:
        return True
    return None


def pytest_report_header(config: pytest.Config) -> str | None:
    target = config.stash.get(_TARGET, None)
    if target is None:
        return None
    return (
        f"memplane conformance: {target.kind}:{target.name} "
        f"({target.provider_class.__module__}.{target.provider_class.__qualname__}, "
        f"harness {type(target.harness).__qualname__})"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a contract subclass that disabled the guard test itself."""
    from memplane_conformance.contract import GUARD_TEST, ContractBase

    checked: set[type] = set()
    for item in items:
        cls = getattr(item, "cls", None)
        if cls is None or cls in checked or not issubclass(cls, ContractBase):
            continue
        checked.add(cls)
        if getattr(cls, GUARD_TEST, None) is not vars(ContractBase)[GUARD_TEST]:
            raise pytest.UsageError(
                f"{cls.__module__}.{cls.__qualname__} replaces the conformance guard "
                f"{GUARD_TEST}; remove that override (mark known gaps with "
                f"xfail(strict=True) instead)"
            )


@pytest.fixture(scope="session")
def memplane_target(request: pytest.FixtureRequest) -> Target:
    """The provider under test in zero-code mode (skips everywhere else)."""
    target = request.config.stash.get(_TARGET, None)
    if target is None:
        pytest.skip("no --memplane-provider given")
    return target
