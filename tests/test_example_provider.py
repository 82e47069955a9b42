"""pip-install-a-backend works: the out-of-tree example provider (tests/example_provider,
distribution ``memplane-example-dict``), once installed, is discovered by entry point,
selected by name from a config, and used by Memory. ``tox -e e2e`` installs it."""

from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys
from pathlib import Path

import pytest

from memplane.config import MemoryConfig
from memplane.memory import Memory
from memplane.plugins.registry import list_providers, load_provider_class

try:
    md.distribution("memplane-example-dict")
except md.PackageNotFoundError:
    pytest.skip("memplane-example-dict is not installed: pip install ./tests/example_provider",
                allow_module_level=True)


def test_listed_from_metadata_with_its_distribution() -> None:
    [info] = [p for p in list_providers("vector_stores") if p.name == "example_dict"]
    assert info.distribution == "memplane-example-dict"
    assert info.target == "memplane_example_dict.store:ExampleDictStore"


def test_listing_does_not_import_it() -> None:
    code = (
        "import sys; from memplane.plugins.registry import list_providers; "
        "names = [p.name for p in list_providers()]; "
        "assert 'example_dict' in names, names; "
        "assert 'memplane_example_dict' not in sys.modules; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_config_selects_it_by_name(tmp_path: Path) -> None:
    path = tmp_path / "memories.json"
    config = MemoryConfig.from_dict({
        "llm": "scripted",
        "embedder": {"provider": "hashing", "config": {"dimension": 64}},
        "vector_store": {"provider": "example_dict", "config": {"path": str(path)}},
    })
    with Memory(config) as memory:
        assert type(memory.vector_store) is load_provider_class("vector_stores", "example_dict")
        added = memory.add("User lives in Lisbon", user_id="alice", infer=False)
        [event] = added.events
        assert [h.id for h in memory.search("Lisbon", user_id="alice")] == [event.id]
    assert path.exists()
    # the data is in the file: a second Memory on the same config finds it
    with Memory(config) as again:
        assert [r.text for r in again.get_all(user_id="alice").records] == ["User lives in Lisbon"]


def test_config_file_selects_it_by_name(tmp_path: Path) -> None:
    config_file = tmp_path / "memplane.yaml"
    config_file.write_text(
        "llm: scripted\n"
        "embedder: {provider: hashing, config: {dimension: 32}}\n"
        "vector_store:\n"
        "  provider: example_dict\n"
        f"  config: {{path: '{tmp_path / 'm.json'}'}}\n"
    )
    with Memory.from_file(config_file) as memory:
        assert memory.vector_store.name == "example_dict"


def test_bad_config_key_is_a_configuration_error(tmp_path: Path) -> None:
    from memplane.errors import ConfigurationError

    config = MemoryConfig.from_dict({
        "llm": "scripted", "embedder": "hashing",
        "vector_store": {"provider": "example_dict", "config": {"pth": "x.json"}},
    })
    with pytest.raises(ConfigurationError, match="example_dict"):
        Memory(config)


def test_its_own_tests_pass_in_subclass_mode() -> None:
    """The package's own tests subclass the contracts (the zero-code run is a tox command)."""
    own_tests = Path(__file__).parent / "example_provider" / "tests"
    out = subprocess.run(
        [sys.executable, "-m", "pytest", str(own_tests), "-q", "-p", "no:cacheprovider"],
        capture_output=True, text=True, cwd=Path(__file__).parent.parent,
    )
    assert out.returncode == 0, out.stdout[-3000:]
    assert " passed" in out.stdout and "failed" not in out.stdout
